#!/usr/bin/env -S npx tsx
// Entry of src/cli/host.ts, kept outside src/ so that importing src/ never runs a CLI.
import { main } from "../../src/cli/host.js";
import { runMain } from "../../src/cli/run.js";

runMain(main, { forceExit: true });
