import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// The desktop shell serves `dist/` from inside the binary; `npm run dev`
// serves the same UI for `cargo run --no-default-features`.
export default defineConfig({
  plugins: [react()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { target: "safari15", outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1500 },
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
