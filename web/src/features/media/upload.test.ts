import { afterEach, describe, expect, it, vi } from "vitest";
import { acceptTokens, clearSession } from "../../api/session";
import { UploadCancelled, uploadFile } from "./upload";

class FakeXhr {
  static last: FakeXhr | null = null;
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = {
    onprogress: null,
  };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  responseType = "";
  status = 0;
  response: unknown = null;
  headers: Record<string, string> = {};
  method = "";
  url = "";
  body: FormData | null = null;
  constructor() {
    FakeXhr.last = this;
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }
  getResponseHeader() {
    return null;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.onabort?.();
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("uploadFile", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    clearSession();
  });

  it("posts the file as multipart field `file` with the token and reports progress", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    acceptTokens({ access_token: "tok", refresh_token: "r", token_type: "bearer", expires_in: 900 });
    const progress: number[] = [];
    const handle = uploadFile(new File(["hello"], "a.txt", { type: "text/plain" }), (p) => progress.push(p));
    await tick();
    const xhr = FakeXhr.last as FakeXhr;
    expect(xhr.method).toBe("POST");
    expect(xhr.url).toBe("/api/v1/media");
    expect(xhr.headers.Authorization).toBe("Bearer tok");
    expect((xhr.body?.get("file") as File).name).toBe("a.txt");
    xhr.upload.onprogress?.({ lengthComputable: true, loaded: 5, total: 10 });
    xhr.status = 201;
    xhr.response = { id: "m1", filename: "a.txt" };
    xhr.onload?.();
    await expect(handle.promise).resolves.toMatchObject({ id: "m1" });
    expect(progress).toEqual([0.5]);
  });

  it("can be cancelled", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    acceptTokens({ access_token: "tok", refresh_token: "r", token_type: "bearer", expires_in: 900 });
    const handle = uploadFile(new File(["x"], "b.png"), () => undefined);
    await tick();
    handle.abort();
    await expect(handle.promise).rejects.toBeInstanceOf(UploadCancelled);
  });

  it("explains a file that is too large", async () => {
    vi.stubGlobal("XMLHttpRequest", FakeXhr);
    acceptTokens({ access_token: "tok", refresh_token: "r", token_type: "bearer", expires_in: 900 });
    const handle = uploadFile(new File(["x"], "huge.mov"), () => undefined);
    await tick();
    const xhr = FakeXhr.last as FakeXhr;
    xhr.status = 413;
    xhr.response = { detail: "too large", code: "file_too_large" };
    xhr.onload?.();
    await expect(handle.promise).rejects.toThrow("huge.mov is too large to upload.");
  });
});
