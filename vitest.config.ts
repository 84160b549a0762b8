import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The engine suite has its own command (npm run e2e) and config.
    exclude: [...configDefaults.exclude, "test/e2e/**"],
    testTimeout: 15 * 60_000,
    hookTimeout: 15 * 60_000,
    globalSetup: ["test/global-setup.ts"],
    // Integration files each spawn real tools; two at a time fits the 2-core machines.
    maxWorkers: 2,
  },
});
