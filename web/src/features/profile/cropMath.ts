/**
 * The square cropper's geometry, free of the DOM: the image is drawn under a square
 * viewport of side `view` (CSS pixels), scaled to cover it at zoom 1 and up to MAX_ZOOM
 * times more, and dragged; what the viewport shows is the crop sent to the server, in
 * pixels of the image as displayed (EXIF orientation applied, as browsers draw it).
 */

export const MAX_ZOOM = 4;

export interface CropView {
  /** The image's size, as displayed (naturalWidth/naturalHeight). */
  width: number;
  height: number;
  /** The viewport's side. */
  view: number;
  /** 1 (the image just covers the viewport) to MAX_ZOOM. */
  zoom: number;
  /** Where the image's top-left corner is drawn, in viewport pixels (≤ 0). */
  x: number;
  y: number;
}

export interface CropBox {
  x: number;
  y: number;
  size: number;
}

/** Viewport pixels per image pixel. */
export function scaleOf(v: Pick<CropView, "width" | "height" | "view" | "zoom">): number {
  return (v.view / Math.min(v.width, v.height)) * v.zoom;
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

/** Keep the viewport covered: zoom within [1, MAX_ZOOM], no gap at any edge. */
export function constrain(v: CropView): CropView {
  const zoom = clamp(v.zoom, 1, MAX_ZOOM);
  const s = scaleOf({ ...v, zoom });
  return {
    ...v,
    zoom,
    x: clamp(v.x, v.view - v.width * s, 0),
    y: clamp(v.y, v.view - v.height * s, 0),
  };
}

/** The starting view of an image: zoom 1, centred (the server's default crop). */
export function initialView(width: number, height: number, view: number): CropView {
  const s = scaleOf({ width, height, view, zoom: 1 });
  return constrain({ width, height, view, zoom: 1, x: (view - width * s) / 2, y: (view - height * s) / 2 });
}

/** Move the image by a drag of (dx, dy) viewport pixels. */
export function pan(v: CropView, dx: number, dy: number): CropView {
  return constrain({ ...v, x: v.x + dx, y: v.y + dy });
}

/**
 * Zoom to `zoom`, keeping the image point under (cx, cy) (viewport pixels; default the
 * centre) where it is.
 */
export function zoomTo(v: CropView, zoom: number, cx = v.view / 2, cy = v.view / 2): CropView {
  const next = clamp(zoom, 1, MAX_ZOOM);
  const before = scaleOf(v);
  const after = scaleOf({ ...v, zoom: next });
  const ix = (cx - v.x) / before;
  const iy = (cy - v.y) / before;
  return constrain({ ...v, zoom: next, x: cx - ix * after, y: cy - iy * after });
}

/** The crop the viewport shows, in whole image pixels, always inside the image. */
export function cropBox(v: CropView): CropBox {
  const s = scaleOf(v);
  const size = clamp(Math.round(v.view / s), 1, Math.min(v.width, v.height));
  return {
    size,
    x: clamp(Math.round(-v.x / s), 0, v.width - size),
    y: clamp(Math.round(-v.y / s), 0, v.height - size),
  };
}
