/**
 * Colour mode: Bootstrap's `data-bs-theme` on <html>. Follows the system until the
 * user toggles; the choice is remembered in localStorage.
 */
import { useCallback, useEffect, useSyncExternalStore } from "react";

export type Theme = "light" | "dark";
const KEY = "chatapi.theme";
const listeners = new Set<() => void>();

function saved(): Theme | null {
  try {
    const v = localStorage.getItem(KEY);
    return v === "light" || v === "dark" ? v : null;
  } catch {
    return null;
  }
}

function systemTheme(): Theme {
  return typeof window !== "undefined" && window.matchMedia?.("(prefers-color-scheme: dark)").matches
    ? "dark"
    : "light";
}

export function currentTheme(): Theme {
  return saved() ?? systemTheme();
}

function apply(): void {
  document.documentElement.setAttribute("data-bs-theme", currentTheme());
  for (const l of listeners) l();
}

export function setTheme(theme: Theme | null): void {
  try {
    if (theme) localStorage.setItem(KEY, theme);
    else localStorage.removeItem(KEY);
  } catch {
    // Not remembered, still applied.
  }
  apply();
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useTheme(): { theme: Theme; followsSystem: boolean; toggle: () => void; followSystem: () => void } {
  const theme = useSyncExternalStore(subscribe, currentTheme, () => "light" as Theme);
  const followsSystem = useSyncExternalStore(
    subscribe,
    () => saved() === null,
    () => true,
  );
  useEffect(() => {
    const mq = window.matchMedia?.("(prefers-color-scheme: dark)");
    if (!mq) return;
    const onChange = () => {
      if (saved() === null) apply();
    };
    mq.addEventListener("change", onChange);
    apply();
    return () => mq.removeEventListener("change", onChange);
  }, []);
  const toggle = useCallback(() => setTheme(currentTheme() === "dark" ? "light" : "dark"), []);
  const followSystem = useCallback(() => setTheme(null), []);
  return { theme, followsSystem, toggle, followSystem };
}
