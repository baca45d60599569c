import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The board is plain React compiled by Vite's built-in transformer (automatic JSX runtime),
// so no framework plugin is needed. It builds into dist/web, which `huskies serve` serves at /.
// It imports a few pure modules of the server (`../../src/runtime/log-timeline`, the stage list,
// the stuck-story rule, types): the dev server may read the repository root for them.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  oxc: { jsx: { runtime: "automatic" } },
  server: { fs: { allow: [fileURLToPath(new URL("..", import.meta.url))] } },
  build: {
    outDir: fileURLToPath(new URL("../dist/web", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 1024,
  },
  logLevel: "warn",
});
