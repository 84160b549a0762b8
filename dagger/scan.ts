/**
 * Print what the Dagger TypeScript runtime sees in this module, using the SDK's own introspector
 * (`scan`). Run under tsx: `npx tsx dagger/scan.ts`. The tests use it.
 */
import { scanModule, scanToJson } from "./introspect.js";

process.stdout.write(JSON.stringify(scanToJson(await scanModule())));
