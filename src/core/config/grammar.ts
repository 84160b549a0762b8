/**
 * The grammar of every config value that reaches an argv, a remote command line, a URL or a file
 * name. Each is checked where config is parsed (checks and deploys alike), so a hostile or mistyped
 * `shipit.json` is a config error naming the key and the fix, long before any process starts.
 *
 * The driver (src/python/shipit_deploy.py) repeats the one rule that matters most to ssh, no value
 * that starts with `-`, as a second line of defence.
 */
import { posix } from "node:path";
import { z } from "zod";

/** One DNS label: letters, digits and inner hyphens, 1–63 characters. */
const LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function isDnsName(s: string): boolean {
  if (s.length === 0 || s.length > 253) return false;
  const labels = (s.endsWith(".") ? s.slice(0, -1) : s).split(".");
  // an all-numeric last label would read as a (bad) IPv4 address
  return labels.every((l) => LABEL.test(l)) && !/^\d+$/.test(labels[labels.length - 1]!);
}

function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

/** An IPv6 address, without a zone (`%eth0`). */
function isIPv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(":")) return false;
  try {
    return new URL(`http://[${s}]/`).hostname.length > 2;
  } catch {
    return false;
  }
}

/** A DNS name, an IPv4 address or a bracketed IPv6 address (`[2001:db8::1]`). */
export function isHost(s: string): boolean {
  if (s.startsWith("[") && s.endsWith("]")) return isIPv6(s.slice(1, -1));
  return isDnsName(s) || isIPv4(s);
}

/** The host as ssh takes it: brackets dropped from an IPv6 address. */
export function sshHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

export const Host = z.string().refine(isHost, {
  message: "must be a DNS name (bot.example.org), an IPv4 address or a bracketed IPv6 address ([2001:db8::1])",
});

/** A POSIX user name (portable: letters, digits, `.`, `_`, `-`), never starting with `-`; at most 32 characters. */
export const UserName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9._-]{0,31}$/, "must be a POSIX user name such as deploy: letters, digits, '.', '_' and '-', starting with a letter or '_', at most 32 characters");

export const Port = z.number().int().min(1, "must be a port between 1 and 65535").max(65535, "must be a port between 1 and 65535");

/** A systemd service unit name, plain or an instance of a template (`rosey@test.service`). */
export const ServiceUnit = z
  .string()
  .max(255)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9:_.\\-]*(@[A-Za-z0-9:_.\\-]+)?\.service$/, "must be a systemd unit name such as rosey-test.service (letters, digits, ':', '_', '.', '-', an optional @instance), not starting with '-'");

/** Characters every path segment may use: portable file-name characters plus `@` and `+`. */
const SEGMENT = /^(?!-)[A-Za-z0-9._@+-]+$/;

/** An absolute, normalised path: no `..`, no `.` segments, no doubled or trailing slash, no segment starting with `-`. */
export const AbsolutePath = z.string().superRefine((p, ctx) => {
  const problem = absolutePathProblem(p);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

function absolutePathProblem(p: string): string | null {
  if (!p.startsWith("/")) return "must be an absolute path such as /srv/rosey-test";
  if (p === "/") return "must not be the root directory: use a folder of its own such as /srv/rosey-test";
  const segments = p.slice(1).split("/");
  if (segments.includes("..")) return "must not contain '..': write the folder it means";
  if (posix.normalize(p) !== p || p.endsWith("/")) return `must be normalised (write ${posix.normalize(p).replace(/(.)\/$/, "$1")})`;
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad !== undefined) return `has a segment "${bad}" that is not a plain file name (letters, digits, '.', '_', '@', '+', '-', not starting with '-')`;
  return null;
}

/**
 * A container image reference, as the distribution spec writes it: `[registry[:port]/]path[:tag][@digest]`,
 * lower-case path components, a tag of at most 128 word characters.
 */
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const REGISTRY = "(?:(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\\.(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?))*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]+)?";
const IMAGE_REF = new RegExp(
  `^(?:${REGISTRY}/)?${COMPONENT}(?:/${COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`,
);
export const ImageRef = z
  .string()
  .max(255)
  .regex(IMAGE_REF, "must be a container image reference such as python:3.11-slim or registry.example.org/team/python:3.12");

/** An environment-variable name, as CI secret stores name secrets. */
export const SecretName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, "must be a secret name in upper case, digits and '_', such as CYTUBEBOT_TEST_PASSWORD");

/** Safe as (part of) a file name: letters, digits, `.`, `_`, `-`, starting with a letter or digit, not only dots. */
export const FileNamePart = z
  .string()
  .max(100, "must be at most 100 characters")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "must be letters, digits, '.', '_' or '-', starting with a letter or digit");

/** A version that is also safe in a file name (PEP 440 and semver alike: 1.2.3, 2.0.0rc1, 1.0.0+g1a2b3c4). */
export const SafeVersion = z
  .string()
  .max(100, "must be at most 100 characters")
  .regex(/^[0-9A-Za-z][0-9A-Za-z.+!_-]*$/, "must be a version such as 1.2.3 (letters, digits, '.', '+', '!', '_', '-')");

/** A path inside the release or the repository: relative, no `..`, no segment starting with `-`. */
export function relativePathProblem(p: string, root = "the repository root"): string | null {
  if (p.length === 0) return "must not be empty";
  if (p.startsWith("/") || p.split("/").includes("..")) return `must be a path relative to ${root}, without '..'`;
  if (p.split("/").some((s) => s.startsWith("-"))) return "must not have a part starting with '-' (it would read as a command-line option)";
  return null;
}

/** CyTube names (channels, accounts): letters, digits, `_` and `-`, as CyTube itself allows. */
export const CytubeChannel = z.string().regex(/^[A-Za-z0-9_-]{1,30}$/, "must be a CyTube channel name: 1-30 letters, digits, '_' or '-'");
export const CytubeUser = z.string().regex(/^[A-Za-z0-9_-]{1,20}$/, "must be a CyTube user name: 1-20 letters, digits, '_' or '-'");

/** A CyTube server: a host (cytu.be), or an http(s) URL with a host and an optional port. */
export const ChatServer = z.string().refine(
  (s) => {
    if (isHost(s)) return true;
    if (!/^https?:\/\/[^\s/]+\/?$/.test(s)) return false;
    try {
      const u = new URL(s);
      return isHost(u.hostname) && !u.username && !u.password;
    } catch {
      return false;
    }
  },
  { message: "must be a host such as cytu.be, or an http(s) URL such as http://127.0.0.1:8880" },
);

/** The Python on the bot's host that creates the release virtualenv: a command name or an absolute path. */
export const HostPython = z.string().refine((s) => /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/.test(s) || absolutePathProblem(s) === null, {
  message: "must be a command name such as python3, or an absolute path such as /usr/bin/python3.11",
});
