import type { ReactNode } from "react";

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="flex-grow-1 d-flex flex-column align-items-center justify-content-center text-center p-4 text-body-secondary">
      <h2 className="h5">{title}</h2>
      {children}
    </div>
  );
}
