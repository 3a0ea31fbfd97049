// Writes public/notify.wav, the optional notification sound: a soft two-note chime of a
// quarter second (16 kHz mono PCM, ~8 KB; WAV plays in every browser). Run once:
// node scripts/gen-sound.mjs
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { webDir } from "../e2e/harness.mjs";

const RATE = 16_000;
const notes = [
  [880, 0.0, 0.16],
  [1320, 0.09, 0.26],
];
const length = Math.ceil(RATE * 0.26);
const samples = new Int16Array(length);
for (let i = 0; i < length; i += 1) {
  const t = i / RATE;
  let v = 0;
  for (const [freq, start, end] of notes) {
    if (t < start || t >= end) continue;
    const local = t - start;
    const attack = Math.min(1, local / 0.005);
    const decay = Math.exp(-local * 14);
    v += Math.sin(2 * Math.PI * freq * local) * attack * decay * 0.35;
  }
  samples[i] = Math.max(-1, Math.min(1, v)) * 32767;
}
const header = Buffer.alloc(44);
header.write("RIFF", 0, "ascii");
header.writeUInt32LE(36 + samples.byteLength, 4);
header.write("WAVEfmt ", 8, "ascii");
header.writeUInt32LE(16, 16);
header.writeUInt16LE(1, 20); // PCM
header.writeUInt16LE(1, 22); // mono
header.writeUInt32LE(RATE, 24);
header.writeUInt32LE(RATE * 2, 28);
header.writeUInt16LE(2, 32);
header.writeUInt16LE(16, 34);
header.write("data", 36, "ascii");
header.writeUInt32LE(samples.byteLength, 40);
writeFileSync(join(webDir, "public", "notify.wav"), Buffer.concat([header, Buffer.from(samples.buffer)]));
