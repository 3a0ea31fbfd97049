import { describe, expect, it } from "vitest";
import { MAX_ZOOM, constrain, cropBox, initialView, pan, zoomTo } from "./cropMath";

describe("cropMath", () => {
  it("starts centred, covering the viewport: the largest centred square", () => {
    const v = initialView(300, 100, 200);
    expect(v.zoom).toBe(1);
    expect(cropBox(v)).toEqual({ x: 100, y: 0, size: 100 });
    expect(cropBox(initialView(80, 120, 240))).toEqual({ x: 0, y: 20, size: 80 });
  });

  it("a drag moves the crop the other way, never past an edge", () => {
    const v = initialView(300, 100, 200); // 2 viewport px per image px
    expect(cropBox(pan(v, 100, 0))).toEqual({ x: 50, y: 0, size: 100 });
    expect(cropBox(pan(v, 10_000, 0))).toEqual({ x: 0, y: 0, size: 100 });
    expect(cropBox(pan(v, -10_000, 50))).toEqual({ x: 200, y: 0, size: 100 });
  });

  it("zooming in keeps the point under the cursor and shrinks the crop", () => {
    const v = initialView(400, 400, 200);
    const zoomed = zoomTo(v, 2, 0, 0); // around the top-left corner
    expect(cropBox(zoomed)).toEqual({ x: 0, y: 0, size: 200 });
    const centred = zoomTo(v, 4);
    expect(cropBox(centred)).toEqual({ x: 150, y: 150, size: 100 });
  });

  it("zoom stays between 1 and the maximum, and zooming out re-covers the viewport", () => {
    const v = initialView(400, 300, 150);
    expect(zoomTo(v, 0.2).zoom).toBe(1);
    expect(zoomTo(v, 99).zoom).toBe(MAX_ZOOM);
    const out = zoomTo(pan(zoomTo(v, 3), -1000, -1000), 1);
    expect(out.x).toBeLessThanOrEqual(0);
    expect(out.x).toBeGreaterThanOrEqual(150 - 400 * (150 / 300));
    expect(cropBox(out)).toEqual({ x: 100, y: 0, size: 300 });
  });

  it("the crop is whole pixels inside the image even for tiny images and odd sizes", () => {
    for (const [w, h] of [
      [1, 1],
      [3, 7],
      [1001, 999],
    ] as const) {
      for (const zoom of [1, 1.37, MAX_ZOOM]) {
        const box = cropBox(constrain({ ...initialView(w, h, 240), zoom }));
        expect(Number.isInteger(box.x) && Number.isInteger(box.y) && Number.isInteger(box.size)).toBe(true);
        expect(box.size).toBeGreaterThanOrEqual(1);
        expect(box.x + box.size).toBeLessThanOrEqual(w);
        expect(box.y + box.size).toBeLessThanOrEqual(h);
      }
    }
  });
});
