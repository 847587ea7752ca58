import { defineConfig, type Plugin } from 'vite';

/**
 * The mocked backend (src/mock/) is for `--mode mock` only: fail any other
 * build that would ship it.
 */
function noMockInBuild(mode: string): Plugin {
  return {
    name: 'authentiq-no-mock-in-build',
    apply: 'build',
    generateBundle(_options, bundle) {
      if (mode === 'mock') return;
      for (const chunk of Object.values(bundle)) {
        if (chunk.type !== 'chunk') continue;
        const leaked = chunk.moduleIds.find((id) => id.replace(/\\/g, '/').includes('/src/mock/'));
        if (leaked) this.error(`the development mock ended up in the ${mode} build: ${leaked}`);
      }
    },
  };
}

// Tauri serves the built files itself; in `tauri dev` it expects the dev
// server on a fixed port.
export default defineConfig(({ mode }) => ({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  plugins: [noMockInBuild(mode)],
  build: {
    // A mock build never lands where Tauri picks up the front end.
    outDir: mode === 'mock' ? 'dist-mock' : 'dist',
    emptyOutDir: true,
    sourcemap: false,
  },
}));
