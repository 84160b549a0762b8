#!/usr/bin/env -S npx tsx
// Entry of src/cli/insight.ts, kept outside src/ so that importing src/ never runs a CLI.
import { main } from "../../src/cli/insight.js";
import { runMain } from "../../src/cli/run.js";

runMain(main, { forceExit: true });
