#!/usr/bin/env node
// `shipit` (package.json "bin"): runs src/cli/shipit.ts under tsx, with shipit's own tsconfig,
// from any folder (a bot's repository included). Kept outside src/ so importing src/ runs nothing.
import { fileURLToPath } from "node:url";

process.env.TSX_TSCONFIG_PATH ??= fileURLToPath(new URL("../../tsconfig.json", import.meta.url));
const { register } = await import("tsx/esm/api");
register();
const { main } = await import("../../src/cli/shipit.ts");
const { runMain } = await import("../../src/cli/run.ts");
runMain(main, { forceExit: true });
