/**
 * Upload one file to POST /api/v1/media (multipart field `file`) with XMLHttpRequest,
 * because fetch cannot report upload progress. Cancel with `abort()`.
 */
import { API_BASE, ApiError } from "../../api/client";
import { errorText, getAccessToken } from "../../api/session";
import type { Media } from "../../api/types";

export interface UploadHandle {
  promise: Promise<Media>;
  abort: () => void;
}

export class UploadCancelled extends Error {
  constructor() {
    super("Upload cancelled");
    this.name = "UploadCancelled";
  }
}

export function uploadFile(file: File, onProgress: (fraction: number) => void): UploadHandle {
  let current: XMLHttpRequest | null = null;
  let cancelled = false;

  const attempt = (token: string | null): Promise<{ status: number; body: unknown; retryAfter: string | null }> =>
    new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      current = xhr;
      xhr.open("POST", `${API_BASE}/media`);
      if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.responseType = "json";
      xhr.upload.onprogress = (e) => {
        if (e.lengthComputable) onProgress(e.loaded / e.total);
      };
      xhr.onload = () =>
        resolve({
          status: xhr.status,
          body: xhr.response as unknown,
          retryAfter: xhr.getResponseHeader("Retry-After"),
        });
      xhr.onerror = () => reject(new ApiError("The upload failed: the server cannot be reached.", 0, "network"));
      xhr.onabort = () => reject(new UploadCancelled());
      const form = new FormData();
      form.append("file", file, file.name);
      xhr.send(form);
    });

  const promise = (async () => {
    let result = await attempt(await getAccessToken());
    if (result.status === 401 && !cancelled) {
      onProgress(0);
      result = await attempt(await getAccessToken(true));
    }
    if (result.status >= 200 && result.status < 300) return result.body as Media;
    const { message, code } = errorText(result.body, result.status, result.retryAfter);
    if (result.status === 413) throw new ApiError(`${file.name} is too large to upload.`, 413, code);
    if (result.status === 415) throw new ApiError(`${file.name}: this kind of file is not accepted.`, 415, code);
    throw new ApiError(message, result.status, code);
  })();

  return {
    promise,
    abort: () => {
      cancelled = true;
      current?.abort();
    },
  };
}
