import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The desktop shell serves `dist/` from inside the binary; `npm run dev`
// serves the same UI for `cargo run --no-default-features`.
export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  // The word catalogs are `../locales/*.json`, beside ui/, because the Rust
  // core embeds the same files; the dev server may serve them (paths here
  // are relative to ui/).
  server: { port: 5173, strictPort: true, fs: { allow: [".", "../locales"] } },
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
