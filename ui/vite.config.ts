import { defineConfig } from 'vite';

// Tauri serves the built files itself; in `tauri dev` it expects the dev
// server on a fixed port.
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false },
});
