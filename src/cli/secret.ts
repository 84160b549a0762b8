import { existsSync, readFileSync } from "node:fs";
import { ShipitError } from "../core/errors.js";

/** `env:NAME` or `file:PATH`, as `dagger call` takes secrets. */
export function readSecret(flag: string, ref: string | undefined): string | undefined {
  if (ref === undefined) return undefined;
  const i = ref.indexOf(":");
  const [scheme, name] = [ref.slice(0, i), ref.slice(i + 1)];
  if (scheme === "env") {
    const v = process.env[name];
    if (!v) throw new ShipitError("SECRET_MISSING", `--${flag}=${ref}: environment variable ${name} is not set`);
    return v;
  }
  if (scheme === "file") {
    if (!existsSync(name)) throw new ShipitError("SECRET_MISSING", `--${flag}=${ref}: file ${name} does not exist`);
    return readFileSync(name, "utf8");
  }
  throw new ShipitError("BAD_ARGUMENT", `--${flag} takes env:NAME or file:PATH`);
}
