import { useCallback, useEffect, useRef, useState } from "react";
import type { Media } from "../../api/types";
import { newClientId } from "../../lib/ids";
import { UploadCancelled, uploadFile, type UploadHandle } from "./upload";

export interface Upload {
  key: string;
  file: File;
  progress: number;
  status: "uploading" | "done" | "error";
  media?: Media;
  error?: string;
}

/** The composer's attachment tray: start, track, cancel and clear uploads. */
export function useUploads() {
  const [uploads, setUploads] = useState<Upload[]>([]);
  const handles = useRef(new Map<string, UploadHandle>());

  const patch = useCallback((key: string, change: Partial<Upload>) => {
    setUploads((list) => list.map((u) => (u.key === key ? { ...u, ...change } : u)));
  }, []);

  const add = useCallback(
    (files: Iterable<File>) => {
      for (const file of files) {
        const key = newClientId();
        setUploads((list) => [...list, { key, file, progress: 0, status: "uploading" }]);
        const handle = uploadFile(file, (progress) => patch(key, { progress }));
        handles.current.set(key, handle);
        handle.promise
          .then((media) => patch(key, { status: "done", progress: 1, media }))
          .catch((error: unknown) => {
            if (error instanceof UploadCancelled) return;
            patch(key, { status: "error", error: error instanceof Error ? error.message : "Upload failed" });
          })
          .finally(() => handles.current.delete(key));
      }
    },
    [patch],
  );

  const remove = useCallback((key: string) => {
    handles.current.get(key)?.abort();
    handles.current.delete(key);
    setUploads((list) => list.filter((u) => u.key !== key));
  }, []);

  const clear = useCallback(() => setUploads([]), []);

  useEffect(() => {
    const current = handles.current;
    return () => {
      for (const h of current.values()) h.abort();
    };
  }, []);

  return { uploads, add, remove, clear };
}
