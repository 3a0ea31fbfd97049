/**
 * The ringing sound, made with WebAudio (no file to fetch, nothing for the CSP to allow):
 * two short rings every three seconds until stopped. A browser that does not allow sound
 * before the page was used stays silent, without an error (the dialog still shows).
 */
export function startRingtone(): () => void {
  const Ctx: typeof AudioContext | undefined = typeof window === "undefined" ? undefined : window.AudioContext;
  if (!Ctx) return () => undefined;
  let ctx: AudioContext;
  try {
    ctx = new Ctx();
  } catch {
    return () => undefined;
  }
  void ctx.resume().catch(() => undefined);
  const ring = () => {
    if (ctx.state !== "running") return;
    const at = ctx.currentTime + 0.05;
    for (const start of [0, 0.55]) {
      const gain = ctx.createGain();
      gain.gain.setValueAtTime(0, at + start);
      gain.gain.linearRampToValueAtTime(0.15, at + start + 0.03);
      gain.gain.setValueAtTime(0.15, at + start + 0.4);
      gain.gain.linearRampToValueAtTime(0, at + start + 0.45);
      gain.connect(ctx.destination);
      for (const frequency of [440, 480]) {
        const osc = ctx.createOscillator();
        osc.frequency.value = frequency;
        osc.connect(gain);
        osc.start(at + start);
        osc.stop(at + start + 0.46);
      }
    }
  };
  ring();
  const timer = setInterval(ring, 3000);
  // Sound was not allowed yet: ring from the first touch of the page on.
  const unlock = () => void ctx.resume().then(ring, () => undefined);
  window.addEventListener("pointerdown", unlock, { once: true });
  window.addEventListener("keydown", unlock, { once: true });
  return () => {
    clearInterval(timer);
    window.removeEventListener("pointerdown", unlock);
    window.removeEventListener("keydown", unlock);
    void ctx.close().catch(() => undefined);
  };
}
