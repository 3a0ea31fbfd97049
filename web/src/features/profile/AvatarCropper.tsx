import { useCallback, useEffect, useId, useRef, useState, type KeyboardEvent, type PointerEvent } from "react";
import { Form, Spinner } from "react-bootstrap";
import { MAX_ZOOM, cropBox, initialView, pan, scaleOf, zoomTo, type CropBox, type CropView } from "./cropMath";

/** The viewport's side in CSS pixels (the canvas's CSS size, `.cropper-canvas`). */
export const VIEW = 240;
const KEY_STEP = 10;

/**
 * A square crop of a picture: the image under a square viewport, dragged to move it
 * (pointer or arrow keys) and zoomed (slider, wheel, + and -). The round mask shows what
 * people will see. Drawn on a canvas: no inline styles, so the strict CSP holds.
 * `onChange` gets the crop in image pixels, or null until the image has loaded.
 */
export function AvatarCropper({
  file,
  onChange,
  onUnreadable,
}: {
  file: Blob;
  onChange: (crop: CropBox | null) => void;
  onUnreadable: () => void;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const [image, setImage] = useState<HTMLImageElement | null>(null);
  const [view, setView] = useState<CropView | null>(null);
  const drag = useRef<{ id: number; x: number; y: number } | null>(null);
  const ids = useId();

  useEffect(() => {
    const url = URL.createObjectURL(file);
    const img = new Image();
    let live = true;
    img.onload = () => {
      if (!live) return;
      setImage(img);
      setView(initialView(img.naturalWidth, img.naturalHeight, VIEW));
    };
    img.onerror = () => {
      if (live) onUnreadable();
    };
    img.src = url;
    onChange(null);
    return () => {
      live = false;
      URL.revokeObjectURL(url);
    };
    // Only a new file starts over (the callbacks may change identity on every render).
  }, [file]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => {
    if (view) onChange(cropBox(view));
  }, [view, onChange]);

  useEffect(() => {
    const el = canvas.current;
    if (!el || !image || !view) return;
    draw(el, image, view);
  }, [image, view]);

  // Wheel zoom needs a non-passive listener, or the page would scroll too.
  useEffect(() => {
    const el = canvas.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      const rect = el.getBoundingClientRect();
      const cx = ((e.clientX - rect.left) / rect.width) * VIEW;
      const cy = ((e.clientY - rect.top) / rect.height) * VIEW;
      setView((v) => (v ? zoomTo(v, v.zoom * Math.exp(-e.deltaY / 500), cx, cy) : v));
    };
    el.addEventListener("wheel", onWheel, { passive: false });
    return () => el.removeEventListener("wheel", onWheel);
  }, [image]);

  const scale = useCallback(() => {
    const el = canvas.current;
    const width = el?.getBoundingClientRect().width || VIEW;
    return VIEW / width;
  }, []);

  function onPointerDown(e: PointerEvent<HTMLCanvasElement>) {
    e.currentTarget.setPointerCapture(e.pointerId);
    drag.current = { id: e.pointerId, x: e.clientX, y: e.clientY };
  }
  function onPointerMove(e: PointerEvent<HTMLCanvasElement>) {
    const d = drag.current;
    if (!d || d.id !== e.pointerId) return;
    const k = scale();
    const dx = (e.clientX - d.x) * k;
    const dy = (e.clientY - d.y) * k;
    drag.current = { id: d.id, x: e.clientX, y: e.clientY };
    setView((v) => (v ? pan(v, dx, dy) : v));
  }
  function onPointerUp(e: PointerEvent<HTMLCanvasElement>) {
    if (drag.current?.id === e.pointerId) drag.current = null;
  }
  function onKeyDown(e: KeyboardEvent<HTMLCanvasElement>) {
    const moves: Record<string, [number, number]> = {
      ArrowLeft: [KEY_STEP, 0],
      ArrowRight: [-KEY_STEP, 0],
      ArrowUp: [0, KEY_STEP],
      ArrowDown: [0, -KEY_STEP],
    };
    const move = moves[e.key];
    if (move) {
      e.preventDefault();
      setView((v) => (v ? pan(v, move[0], move[1]) : v));
    } else if (e.key === "+" || e.key === "=") {
      e.preventDefault();
      setView((v) => (v ? zoomTo(v, v.zoom * 1.1) : v));
    } else if (e.key === "-") {
      e.preventDefault();
      setView((v) => (v ? zoomTo(v, v.zoom / 1.1) : v));
    }
  }

  return (
    <div className="d-flex flex-column align-items-center gap-2">
      <div className="cropper-frame">
        <canvas
          ref={canvas}
          className="cropper-canvas"
          width={VIEW * pixelRatio()}
          height={VIEW * pixelRatio()}
          tabIndex={0}
          role="img"
          aria-label="Picture crop: drag, or use the arrow keys, to move it; the slider, the wheel, + and - zoom"
          data-testid="avatar-cropper"
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={onPointerUp}
          onPointerCancel={onPointerUp}
          onKeyDown={onKeyDown}
        />
        {view ? null : (
          <div className="cropper-loading">
            <Spinner animation="border" size="sm" role="status" aria-label="Loading the picture" />
          </div>
        )}
      </div>
      <Form.Group controlId={`${ids}-zoom`} className="w-100 cropper-zoom">
        <Form.Label className="small mb-0">Zoom</Form.Label>
        <Form.Range
          min={1}
          max={MAX_ZOOM}
          step={0.01}
          value={view?.zoom ?? 1}
          disabled={!view}
          onChange={(e) => {
            const zoom = Number(e.currentTarget.value);
            setView((v) => (v ? zoomTo(v, zoom) : v));
          }}
        />
      </Form.Group>
    </div>
  );
}

function pixelRatio(): number {
  return Math.min(3, Math.max(1, Math.round(globalThis.devicePixelRatio || 1)));
}

/** The image where the view puts it, and the round mask over it. */
function draw(el: HTMLCanvasElement, image: HTMLImageElement, v: CropView): void {
  const ctx = el.getContext("2d");
  if (!ctx) return;
  const k = el.width / VIEW;
  const s = scaleOf(v);
  ctx.setTransform(k, 0, 0, k, 0, 0);
  ctx.clearRect(0, 0, VIEW, VIEW);
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(image, v.x, v.y, v.width * s, v.height * s);
  ctx.beginPath();
  ctx.rect(0, 0, VIEW, VIEW);
  ctx.arc(VIEW / 2, VIEW / 2, VIEW / 2 - 1, 0, Math.PI * 2, true);
  ctx.fillStyle = "rgba(0, 0, 0, 0.5)";
  ctx.fill("evenodd");
  ctx.beginPath();
  ctx.arc(VIEW / 2, VIEW / 2, VIEW / 2 - 1, 0, Math.PI * 2);
  ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
  ctx.lineWidth = 2;
  ctx.stroke();
}
