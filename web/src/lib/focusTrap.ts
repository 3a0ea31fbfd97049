/**
 * Tab and Shift+Tab stay inside the open dialog: from its last control Tab wraps to the
 * first, and from the first Shift+Tab wraps to the last. React-bootstrap's own
 * enforceFocus only pulls focus back after it has left (to the page body, or to the
 * "Skip to conversation" link behind the dialog); this keeps it from leaving at all.
 * One listener for every dialog the app opens, the topmost one wins (a confirmation
 * over group settings).
 */

const FOCUSABLE = [
  "a[href]",
  "button:not([disabled])",
  "input:not([disabled]):not([type='hidden'])",
  "select:not([disabled])",
  "textarea:not([disabled])",
  "audio[controls]",
  "video[controls]",
  "[contenteditable='true']",
  "[tabindex]:not([tabindex='-1'])",
].join(",");

/** The open dialog focus belongs to: the last one shown. */
export function topDialog(doc: Document = document): HTMLElement | null {
  const open = doc.querySelectorAll<HTMLElement>(".modal.show[role='dialog'], [role='dialog'][aria-modal='true']");
  return open[open.length - 1] ?? null;
}

/** The controls Tab reaches in `root`, in order. */
export function tabbables(root: HTMLElement): HTMLElement[] {
  return Array.from(root.querySelectorAll<HTMLElement>(FOCUSABLE)).filter(
    (el) => el.tabIndex >= 0 && !el.closest("[inert]") && isVisible(el),
  );
}

function isVisible(el: HTMLElement): boolean {
  // checkVisibility: hidden by display, visibility or a collapsed ancestor. Where it is
  // missing (jsdom), everything counts as visible.
  return typeof el.checkVisibility === "function" ? el.checkVisibility({ visibilityProperty: true }) : true;
}

/** Handle a Tab keydown; true when focus was moved (the browser's own move is cancelled). */
export function trapTab(event: KeyboardEvent, doc: Document = document): boolean {
  if (event.key !== "Tab" || event.altKey || event.ctrlKey || event.metaKey) return false;
  const dialog = topDialog(doc);
  if (!dialog) return false;
  const items = tabbables(dialog);
  const active = doc.activeElement as HTMLElement | null;
  const first = items[0];
  const last = items[items.length - 1];
  let target: HTMLElement | undefined;
  if (!first || !last) target = dialog;
  else if (!active || !dialog.contains(active)) target = event.shiftKey ? last : first;
  else if (event.shiftKey && (active === first || active === dialog)) target = last;
  else if (!event.shiftKey && active === last) target = first;
  if (!target) return false;
  event.preventDefault();
  target.focus();
  return true;
}

/** Install the trap for the whole page. Returns a function that removes it. */
export function installDialogFocusTrap(doc: Document = document): () => void {
  const onKeyDown = (event: KeyboardEvent) => void trapTab(event, doc);
  doc.addEventListener("keydown", onKeyDown, true);
  return () => doc.removeEventListener("keydown", onKeyDown, true);
}
