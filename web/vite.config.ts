/// <reference types="vitest/config" />
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Vite empties dist/ before each build; the Go package embeds dist/ and needs at least
// one file there to compile, so the tracked dist/.keep is written back after every build.
function keepDistPlaceholder(): Plugin {
  return {
    name: 'storybot-keep-dist',
    apply: 'build',
    closeBundle() {
      writeFileSync(here('./dist/.keep'), '');
    },
  };
}

export default defineConfig({
  plugins: [react(), keepDistPlaceholder()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // GraphiQL's editor (Monaco) is large; it only loads on /playground.
    chunkSizeWarningLimit: 4096,
    rolldownOptions: {
      input: {
        app: here('./index.html'),
        playground: here('./playground.html'),
      },
      onwarn(warning, warn) {
        // GraphiQL's modules start with React Compiler directives that bundling drops, harmlessly.
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    // `npm run dev` talks to a storybot running on the default port: the API, the OpenID
    // Connect sign-in that the sign-in page links to, and the story downloads.
    proxy: {
      '/graphql': { target: 'http://127.0.0.1:8080', ws: true },
      '/auth': { target: 'http://127.0.0.1:8080' },
      // Story downloads (Markdown, EPUB).
      '/stories': { target: 'http://127.0.0.1:8080' },
    },
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    include: ['src/**/*.test.{ts,tsx}'],
    // The tests render whole pages and wait for what a real user would; on a shared 2-core CI
    // machine under load Vitest's default 5 s per test ran out before they did (and a timed-out
    // test's requests then spilled into the next one's fake server).
    testTimeout: 30_000,
  },
});
