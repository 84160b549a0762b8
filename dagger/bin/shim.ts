#!/usr/bin/env -S npx tsx
// Entry of src/cli/shim.ts, kept outside src/ so that importing src/ never runs a CLI.
import { main } from "../../src/cli/shim.js";
import { runMain } from "../../src/cli/run.js";

runMain(main, { label: "shipit shim" });
