import { initials } from "../lib/format";

// Each gives white initials at least 4.5:1 contrast (WCAG AA).
const PALETTE = ["#5a32a3", "#0a58ca", "#146c43", "#ab296a", "#a04f00", "#0d7560", "#520dc2", "#b02a37", "#087990"];

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
