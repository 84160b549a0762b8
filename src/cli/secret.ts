import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { InfraError, ShipitError } from "../core/errors.js";

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

/**
 * The text of `--known-hosts=PATH`, or null when the flag is not given (the deploy core then
 * refuses, saying how to get the line). A path that is not there is named as such, not as a
 * missing flag.
 */
export function readKnownHosts(path: string | undefined): string | null {
  if (path === undefined) return null;
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new ShipitError("KNOWN_HOSTS_MISSING", `--known-hosts=${path}: file ${resolve(path)} does not exist. Fix: pass the known_hosts file that pins the bot host's key (ssh-keyscan -p PORT HOST, then check its fingerprint)`);
    }
    if (code === "EISDIR") throw new ShipitError("KNOWN_HOSTS_MISSING", `--known-hosts=${path}: ${resolve(path)} is a directory. Fix: pass the known_hosts file itself`);
    throw new InfraError("KNOWN_HOSTS_UNREADABLE", `--known-hosts=${path}: cannot read ${resolve(path)} (${code ?? (e as Error).message}). Fix: make it readable by this user`, { cause: e });
  }
}
