/**
 * Per-conversation seq bookkeeping for the socket: which events were already handed
 * to listeners (so catch-up and live delivery never hand one over twice) and whether
 * a hole exists that a catch-up must fill.
 */
export class SeqTracker {
  private readonly watermarks = new Map<string, number>();
  private readonly ahead = new Map<string, Set<number>>();

  /** Seed a conversation's watermark (e.g. from the conversation list); only ever raises it. */
  track(conversationId: string, seq: number): void {
    const current = this.watermarks.get(conversationId);
    if (current === undefined || seq > current) {
      this.watermarks.set(conversationId, seq);
      this.compact(conversationId);
    }
  }

  forget(conversationId: string): void {
    this.watermarks.delete(conversationId);
    this.ahead.delete(conversationId);
  }

  conversations(): string[] {
    return [...this.watermarks.keys()];
  }

  watermark(conversationId: string): number | undefined {
    return this.watermarks.get(conversationId);
  }

  /**
   * Record an event's seq. Returns false for a duplicate. The first event of a
   * conversation never seen before starts its watermark (there is nothing to catch up).
   */
  accept(conversationId: string, seq: number): boolean {
    const mark = this.watermarks.get(conversationId);
    if (mark === undefined) {
      this.watermarks.set(conversationId, seq);
      return true;
    }
    const ahead = this.ahead.get(conversationId);
    if (seq <= mark || ahead?.has(seq)) return false;
    if (seq === mark + 1) {
      this.watermarks.set(conversationId, seq);
      this.compact(conversationId);
    } else {
      const set = ahead ?? new Set<number>();
      set.add(seq);
      this.ahead.set(conversationId, set);
    }
    return true;
  }

  hasGap(conversationId: string): boolean {
    return (this.ahead.get(conversationId)?.size ?? 0) > 0;
  }

  private compact(conversationId: string): void {
    const ahead = this.ahead.get(conversationId);
    if (!ahead) return;
    let mark = this.watermarks.get(conversationId) ?? 0;
    while (ahead.has(mark + 1)) mark += 1;
    this.watermarks.set(conversationId, mark);
    for (const s of ahead) if (s <= mark) ahead.delete(s);
    if (!ahead.size) this.ahead.delete(conversationId);
  }
}
