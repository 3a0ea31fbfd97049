/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { serviceWorker } from "./vite-sw-plugin.ts";

// The FastAPI app serves web/dist at "/", so every URL the client uses is relative.
// In development, Vite proxies the API (HTTP and WebSocket) to a local `chatapi serve`.
const apiTarget = process.env.CHATAPI_DEV_API ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react(), serviceWorker()],
  server: {
    proxy: {
      "/api/v1/ws": { target: apiTarget, ws: true, changeOrigin: false },
      "/api": { target: apiTarget, changeOrigin: false },
      "/healthz": apiTarget,
      "/readyz": apiTarget,
    },
  },
  build: {
    outDir: "dist",
    sourcemap: true,
    chunkSizeWarningLimit: 800,
  },
  test: {
    environment: "jsdom",
    globals: true,
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test/setup.ts"],
  },
});
