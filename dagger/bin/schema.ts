#!/usr/bin/env -S npx tsx
// Entry of src/cli/schema.ts, kept outside src/ so that importing src/ never writes the schema.
import { main } from "../../src/cli/schema.js";
import { runMain } from "../../src/cli/run.js";

runMain(main);
