import "bootstrap/dist/css/bootstrap.min.css";
import "./app/app.css";
import "./app/theme.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app/App";
import { router } from "./app/router";
import { registerServiceWorker } from "./features/pwa/updates";

const root = document.getElementById("root");
if (!root) throw new Error("#root is missing from index.html");
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// A notification's click opens its conversation in this tab, without a reload.
const open = (url: string) => void router.navigate(url);
window.addEventListener("chatapi:open", (event) => open((event as CustomEvent<string>).detail));
// The service worker (offline start, updates, notifications) is the built app's: the
// development server serves modules it could not keep. Registered once the page has
// loaded, so its first download of the app's files never competes with the page's own.
if (import.meta.env.PROD) {
  if (document.readyState === "complete") void registerServiceWorker(open);
  else window.addEventListener("load", () => void registerServiceWorker(open), { once: true });
}
