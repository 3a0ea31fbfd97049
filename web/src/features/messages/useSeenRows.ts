/**
 * Watches the rows of a message list (every element with `data-seq`) and reports the
 * highest one seen while the page is visible: an IntersectionObserver feeds a
 * SeenTracker, which only moves forward and only once `start`ed.
 */
import { useCallback, useEffect, useRef, type RefObject } from "react";
import { countsAsSeen, SeenTracker } from "./readTracking";

export function useSeenRows(
  scroller: RefObject<HTMLElement | null>,
  /** My read marker once the list is in place; undefined until then (nothing is read before). */
  startAt: number | undefined,
  onSeen: (seq: number) => void,
): void {
  const tracker = useRef(new SeenTracker());
  const observer = useRef<IntersectionObserver | null>(null);
  const onSeenRef = useRef(onSeen);
  onSeenRef.current = onSeen;

  const report = useCallback(() => {
    const seq = tracker.current.take(document.visibilityState === "visible");
    if (seq !== null) onSeenRef.current(seq);
  }, []);

  useEffect(() => {
    const root = scroller.current;
    if (!root || typeof IntersectionObserver === "undefined") return;
    const io = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const seq = Number((entry.target as HTMLElement).dataset.seq);
          if (!Number.isFinite(seq)) continue;
          const seen =
            entry.isIntersecting &&
            countsAsSeen(entry.intersectionRatio, entry.intersectionRect.height, entry.rootBounds?.height ?? 0);
          tracker.current.set(seq, seen);
        }
        report();
      },
      { root, threshold: [0, 0.25, 0.5, 0.75, 1] },
    );
    observer.current = io;
    document.addEventListener("visibilitychange", report);
    return () => {
      io.disconnect();
      observer.current = null;
      document.removeEventListener("visibilitychange", report);
    };
  }, [scroller, report]);

  useEffect(() => {
    // Every row with a seq is watched (new ones after each render); observing twice is a no-op.
    const root = scroller.current;
    if (!root || !observer.current) return;
    for (const el of root.querySelectorAll<HTMLElement>("[data-seq]")) observer.current.observe(el);
  });

  const started = startAt !== undefined;
  useEffect(() => {
    // In place: from now on what is on screen is read. Measure afresh (observing again
    // reports every row as it is now): the list may just have been scrolled there.
    const root = scroller.current;
    const io = observer.current;
    if (!started || startAt === undefined || !root || !io) return;
    tracker.current.start(startAt);
    io.disconnect();
    for (const el of root.querySelectorAll<HTMLElement>("[data-seq]")) io.observe(el);
    // Once, when started: the marker at that moment is the one meant.
  }, [started]);
}
