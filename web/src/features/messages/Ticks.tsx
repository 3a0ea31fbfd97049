import { Icon } from "../../components/Icon";
import type { TickStatus } from "./receipts";

/**
 * The status of my message, told apart by shape as well as colour: a clock while
 * sending, ✓ sent, ✓✓ delivered, ✓✓ on a filled badge once read, "!" when not sent.
 * The words are the accessible name and the tooltip.
 */
const TICKS: Record<TickStatus, { label: string; icon: "clock" | "check" | "checks" | null }> = {
  pending: { label: "Sending", icon: "clock" },
  failed: { label: "Not sent", icon: null },
  sent: { label: "Sent", icon: "check" },
  delivered: { label: "Delivered", icon: "checks" },
  read: { label: "Read", icon: "checks" },
};

export function Ticks({ status }: { status: TickStatus }) {
  const t = TICKS[status];
  return (
    <span
      className={`ticks ticks-${status} ms-1`}
      role="img"
      aria-label={t.label}
      title={t.label}
      data-testid="message-status"
      data-status={status}
    >
      {t.icon ? <Icon name={t.icon} size={status === "pending" ? 12 : 14} /> : <span aria-hidden="true">!</span>}
    </span>
  );
}
