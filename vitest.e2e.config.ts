import { defineConfig } from "vitest/config";

/** `npm run e2e`: every module function through a real Dagger engine (`npm run engine:up` first). */
export default defineConfig({
  test: {
    include: ["test/e2e/**/*.e2e.test.ts"],
    testTimeout: 20 * 60_000,
    hookTimeout: 20 * 60_000,
    globalSetup: ["test/e2e/engine-setup.ts"],
    // One engine on 2 cores: run the files one after another; tests inside a file run concurrently where marked.
    fileParallelism: false,
  },
});
