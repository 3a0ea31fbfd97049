import type { ReactNode } from "react";

export function EmptyState({
  title,
  children,
  illustration,
  action,
}: {
  title: string;
  children?: ReactNode;
  /** a picture over the title (decorative) */
  illustration?: ReactNode;
  /** what to do next: a button or a link */
  action?: ReactNode;
}) {
  return (
    <div className="empty-state flex-grow-1 d-flex flex-column align-items-center justify-content-center text-center p-4">
      {illustration ? <div className="empty-state-art mb-3">{illustration}</div> : null}
      <h2 className="h5">{title}</h2>
      <div className="text-body-secondary">{children}</div>
      {action ? <div className="mt-2">{action}</div> : null}
    </div>
  );
}

/** Two speech bubbles, drawn in the theme's colours (inline SVG: no image request, CSP-safe). */
export function ChatIllustration() {
  return (
    <svg width="168" height="128" viewBox="0 0 168 128" aria-hidden="true" focusable="false" className="chat-art">
      <circle className="chat-art-halo" cx="84" cy="64" r="60" />
      <path
        className="chat-art-back"
        d="M58 26h66a14 14 0 0 1 14 14v30a14 14 0 0 1-14 14h-8v14l-16-14H58a14 14 0 0 1-14-14V40a14 14 0 0 1 14-14Z"
      />
      <path
        className="chat-art-front"
        d="M34 50h58a12 12 0 0 1 12 12v26a12 12 0 0 1-12 12H54l-14 12v-12h-6a12 12 0 0 1-12-12V62a12 12 0 0 1 12-12Z"
      />
      <circle className="chat-art-dot" cx="46" cy="75" r="4.5" />
      <circle className="chat-art-dot" cx="63" cy="75" r="4.5" />
      <circle className="chat-art-dot" cx="80" cy="75" r="4.5" />
    </svg>
  );
}
