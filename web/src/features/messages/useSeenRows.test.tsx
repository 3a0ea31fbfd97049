import { act, render } from "@testing-library/react";
import { useRef } from "react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { useSeenRows } from "./useSeenRows";

/** A stand-in for the browser's IntersectionObserver: the test says what is on screen. */
class FakeObserver {
  static current: FakeObserver | null = null;
  readonly targets = new Set<Element>();
  constructor(private readonly callback: IntersectionObserverCallback) {
    FakeObserver.current = this;
  }
  observe(el: Element) {
    this.targets.add(el);
  }
  unobserve(el: Element) {
    this.targets.delete(el);
  }
  disconnect() {
    this.targets.clear();
  }
  show(seqs: number[], hidden: number[] = []) {
    const entry = (el: Element, on: boolean) =>
      ({
        target: el,
        isIntersecting: on,
        intersectionRatio: on ? 1 : 0,
        intersectionRect: { height: on ? 40 : 0 },
        rootBounds: { height: 400 },
      }) as unknown as IntersectionObserverEntry;
    const bySeq = (seq: number) => [...this.targets].find((el) => (el as HTMLElement).dataset.seq === String(seq));
    const entries = [
      ...seqs.flatMap((s) => (bySeq(s) ? [entry(bySeq(s) as Element, true)] : [])),
      ...hidden.flatMap((s) => (bySeq(s) ? [entry(bySeq(s) as Element, false)] : [])),
    ];
    this.callback(entries, this as unknown as IntersectionObserver);
  }
}

function Rows({ startAt, onSeen }: { startAt: number | undefined; onSeen: (seq: number) => void }) {
  const scroller = useRef<HTMLDivElement>(null);
  useSeenRows(scroller, startAt, onSeen);
  return (
    <div ref={scroller}>
      {[1, 2, 3, 4, 5].map((seq) => (
        <div key={seq} data-seq={seq}>
          row {seq}
        </div>
      ))}
    </div>
  );
}

let visibility: DocumentVisibilityState = "visible";

describe("rows seen on screen", () => {
  beforeEach(() => {
    vi.stubGlobal("IntersectionObserver", FakeObserver);
    visibility = "visible";
    vi.spyOn(document, "visibilityState", "get").mockImplementation(() => visibility);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it("reads nothing before the list is in place, then the highest row on screen", () => {
    const onSeen = vi.fn();
    const view = render(<Rows startAt={undefined} onSeen={onSeen} />);
    act(() => FakeObserver.current?.show([4, 5]));
    expect(onSeen).not.toHaveBeenCalled();
    view.rerender(<Rows startAt={2} onSeen={onSeen} />);
    // Measured afresh once in place: only what is on screen now counts.
    act(() => FakeObserver.current?.show([3]));
    expect(onSeen).toHaveBeenLastCalledWith(3);
    act(() => FakeObserver.current?.show([4], [3]));
    expect(onSeen).toHaveBeenLastCalledWith(4);
    expect(onSeen).toHaveBeenCalledTimes(2);
  });

  it("a row that comes on screen while the page is hidden is read when the page is shown", () => {
    const onSeen = vi.fn();
    render(<Rows startAt={1} onSeen={onSeen} />);
    visibility = "hidden";
    act(() => FakeObserver.current?.show([5]));
    expect(onSeen).not.toHaveBeenCalled();
    visibility = "visible";
    act(() => {
      document.dispatchEvent(new Event("visibilitychange"));
    });
    expect(onSeen).toHaveBeenCalledWith(5);
  });
});
