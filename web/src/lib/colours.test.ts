import { describe, expect, it } from "vitest";
import { colourIndex, hashString, PALETTE_SIZE } from "./colours";

describe("name and avatar colours", () => {
  it("are stable: the same id always gets the same colour", () => {
    const id = "8a40c452-1735-4e99-a8d6-8b12948f9374";
    expect(colourIndex(id)).toBe(colourIndex(id));
    expect(hashString("abc")).toBe(0x1a47e90b);
  });

  it("stay within the palette", () => {
    for (let i = 0; i < 500; i += 1) {
      const c = colourIndex(`user-${i}`);
      expect(c).toBeGreaterThanOrEqual(0);
      expect(c).toBeLessThan(PALETTE_SIZE);
    }
  });

  it("spread ids over the whole palette", () => {
    const counts = new Array<number>(PALETTE_SIZE).fill(0);
    for (let i = 0; i < 800; i += 1) counts[colourIndex(crypto.randomUUID())]! += 1;
    for (const n of counts) expect(n).toBeGreaterThan(50);
  });

  it("tell apart ids that differ in one character", () => {
    const a = "u0000000-0000-4000-8000-00000000000a";
    const b = "u0000000-0000-4000-8000-00000000000b";
    expect(colourIndex(a)).not.toBe(colourIndex(b));
  });
});
