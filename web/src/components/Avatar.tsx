import { initials } from "../lib/format";

const PALETTE = ["#6f42c1", "#0d6efd", "#198754", "#d63384", "#fd7e14", "#20c997", "#6610f2", "#dc3545"];

function colour(seed: string): string {
  let h = 0;
  for (const ch of seed) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return PALETTE[h % PALETTE.length] ?? "#6c757d";
}

export function Avatar({
  name,
  seed,
  online,
  small,
}: {
  name: string;
  seed: string;
  online?: boolean | undefined;
  small?: boolean;
}) {
  return (
    <span className={`avatar${small ? " avatar-sm" : ""}`} style={{ background: colour(seed) }} aria-hidden="true">
      {initials(name)}
      {online ? <span className="online-dot" data-testid="online-dot" /> : null}
    </span>
  );
}
