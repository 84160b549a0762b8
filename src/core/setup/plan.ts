/**
 * `shipit setup` as data: the desired state of a bare host for one environment (the deploy user,
 * the base-path layout, the unit, the sudoers drop-in, journal access), as idempotent shell steps.
 * Each step has a `check` (exit 0: already so) and an `apply` that makes it so; the driver
 * (src/python/shipit_deploy.py, kind "setup") runs the check, applies only when it fails, checks
 * again, and reports what it changed. A second run changes nothing.
 *
 * Every value put into a script is single-quoted and comes from the config grammar
 * (src/core/config/grammar.ts); file contents travel in quoted here-documents, so the shell
 * expands nothing in them.
 */
import { sshHost } from "../config/grammar.js";
import { ConfigError, configIssue, ShipitError } from "../errors.js";
import type { Environment } from "../config/environments.js";
import type { DeployPaths } from "../deploy/plan.js";

export interface SetupStep {
  id: string;
  /** What the step changes, as printed when it does: "created user deploy". */
  change: string;
  /** sh script: exit 0 when the host is already in this step's state. */
  check: string;
  /** sh script that makes it so; absent for a prerequisite (its failing check refuses the host). */
  apply?: string;
  /** For a prerequisite: what is wrong and the fix (the check's stdout names what is missing). */
  refusal?: string;
}

export interface SetupPlan {
  run: string;
  kind: "setup";
  env: string;
  ssh: { host: string; port: number; user: string; identityFile: string; knownHostsFile: string; connectTimeoutSec: number };
  /** The remote command each script is fed to on stdin: `sh -s`, through `sudo -n` for a non-root admin. */
  remote: string[];
  steps: SetupStep[];
}

export interface SetupRequest {
  env: Environment;
  run: string;
  paths: Pick<DeployPaths, "identity" | "knownHosts">;
  /** The unit template's text from the bot's repository (env.setup.unitTemplate), when one is set. */
  unitTemplate?: string;
  /** The deploy key's public half, authorized for the deploy user. */
  deployKey?: string;
  via?: { host: string; port: number };
}

/** The only commands the deploy user may run through sudo: what a deploy needs, for its own unit. */
export const SUDO_VERBS = ["restart", "reset-failed", "show"] as const;
export const SYSTEMCTL = "/usr/bin/systemctl";

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** `cmd` reading `text` exactly from a quoted here-document (the shell expands nothing in it), then `after` on the same line. */
function withText(cmd: string, text: string, after = ""): string {
  const body = text.endsWith("\n") ? text : `${text}\n`;
  let tag = "SHIPIT_EOF";
  while (body.split("\n").includes(tag)) tag += "_";
  return `${cmd} <<'${tag}'${after}\n${body}${tag}`;
}

/** The placeholders a unit template may use, and their values for this environment. */
export function unitVariables(env: Environment): Record<string, string> {
  const current = `${env.basePath}/current`;
  return {
    BASE: env.basePath,
    CURRENT: current,
    PYTHON: `${current}/.venv/bin/python`,
    USER: env.user,
    UNIT: env.unit.replace(/\.service$/, ""),
    ENV: env.name,
  };
}

/** A unit template with its @NAME@ placeholders filled; an unknown placeholder is a config error naming it. */
export function renderUnit(template: string, env: Environment, origin: string): string {
  const vars = unitVariables(env);
  const unknown = [...new Set([...template.matchAll(/@([A-Z][A-Z0-9_]*)@/g)].map((m) => m[1]!))].filter((k) => !(k in vars));
  if (unknown.length) {
    throw new ConfigError(origin, [
      configIssue({
        code: "UNKNOWN_PLACEHOLDER",
        path: ["environments", env.name, "setup", "unitTemplate"],
        value: env.setup.unitTemplate,
        problem: `uses ${unknown.map((k) => `@${k}@`).join(", ")}, which shipit does not know`,
        fix: `use only ${Object.keys(vars).map((k) => `@${k}@`).join(", ")} in ${env.setup.unitTemplate}`,
      }),
    ]);
  }
  const text = template.replace(/@([A-Z][A-Z0-9_]*)@/g, (_, k: string) => vars[k]!);
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** shipit's own unit: the release's interpreter inside current/, as the deploy user, never started before a first release. */
export function builtInUnit(env: Environment): string {
  const v = unitVariables(env);
  const user = env.user === "root" ? [] : [`User=${env.user}`, `Group=${env.user}`];
  return [
    `# Written by shipit setup for the environment "${env.name}". A deploy unpacks a release, points`,
    `# ${v.CURRENT} at it and restarts this unit.`,
    "[Unit]",
    `Description=${v.UNIT} (shipit environment ${env.name})`,
    "After=network-online.target",
    "Wants=network-online.target",
    // Nothing to run before the first deploy: no failed unit at boot on a fresh host.
    `ConditionPathExists=${v.CURRENT}`,
    // A crash loop ends as failed within seconds; a deploy's restart runs reset-failed first.
    "StartLimitIntervalSec=30",
    "StartLimitBurst=3",
    "",
    "[Service]",
    "Type=simple",
    ...user,
    `WorkingDirectory=${v.CURRENT}`,
    "Environment=PYTHONUNBUFFERED=1",
    `ExecStart=${v.PYTHON} ${env.setup.exec.join(" ")}`,
    "Restart=on-failure",
    "RestartSec=1",
    "TimeoutStopSec=10",
    "KillMode=mixed",
    `SyslogIdentifier=${v.UNIT}`,
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}

/** sudoers needs `\`, `,`, `:` and `=` escaped in a command's arguments. */
const sudoersArg = (s: string) => s.replace(/[\\,:=]/g, (c) => `\\${c}`);

/** The drop-in's file name: sudo ignores files in sudoers.d whose name holds a '.' (or ends in '~'). */
export function sudoersFile(env: Environment): string {
  return `/etc/sudoers.d/shipit-${env.unit.replace(/\.service$/, "").replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

/** Exactly restart, reset-failed and show of the environment's unit, for the deploy user, and nothing else. */
export function sudoersRule(env: Environment): string {
  const cmds = SUDO_VERBS.map((verb) => `${SYSTEMCTL} ${verb} ${sudoersArg(env.unit)}`);
  return [
    `# Written by shipit setup for the environment "${env.name}": ${env.user} may run only these`,
    `# commands as root, without a password (what a deploy runs through sudo -n), and nothing else.`,
    `${env.user} ALL=(root) NOPASSWD: ${cmds.join(", ")}`,
    "",
  ].join("\n");
}

/** `type base64 [comment]` of an OpenSSH public key; anything else is refused. */
export function parseDeployKey(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const m = lines.length === 1 ? /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,3})(?: (.*))?$/.exec(lines[0]!) : null;
  if (!m) {
    throw new ShipitError(
      "DEPLOY_KEY_INVALID",
      "--deploy-key must be one OpenSSH public key line (ssh-ed25519 AAAA… comment), the .pub file of the deploy key. Fix: pass the public half (ssh-keygen -y -f KEY > KEY.pub), never the private key",
    );
  }
  const comment = m[3] && /^[A-Za-z0-9@._+:-]{1,100}$/.test(m[3]) ? ` ${m[3]}` : "";
  return `${m[1]} ${m[2]}${comment}`;
}

/** Every step for the environment, in order: prerequisites first (read-only), then each change. */
export function buildSetupPlan(r: SetupRequest): SetupPlan {
  const env = r.env;
  const user = env.user;
  const isRoot = user === "root";
  const group = env.setup.journalGroup;
  const unitPath = `/etc/systemd/system/${env.unit}`;
  const unitText = r.unitTemplate !== undefined ? r.unitTemplate : builtInUnit(env);
  const dirs = [env.basePath, `${env.basePath}/releases`, `${env.basePath}/shared`];
  const steps: SetupStep[] = [];

  steps.push({
    id: "prerequisites",
    change: "checked the host",
    check: [
      `missing=""`,
      `[ "$(id -u)" = 0 ] || missing="$missing, root (connect as root or as a user with passwordless sudo: environments.${env.name}.setup.adminUser)"`,
      `[ -d /run/systemd/system ] && [ -x ${SYSTEMCTL} ] || missing="$missing, systemd as init (${SYSTEMCTL})"`,
      ...(isRoot ? [] : [`command -v sudo >/dev/null 2>&1 && command -v visudo >/dev/null 2>&1 || missing="$missing, sudo (apt-get install sudo)"`]),
      `command -v useradd >/dev/null 2>&1 && command -v usermod >/dev/null 2>&1 || missing="$missing, useradd/usermod (apt-get install passwd)"`,
      `${sq(env.python)} -c 'import venv, ensurepip' >/dev/null 2>&1 || missing="$missing, ${env.python} with venv (apt-get install python3 python3-venv, or set environments.${env.name}.python)"`,
      ...(isRoot ? [] : [`getent group ${sq(group)} >/dev/null 2>&1 || missing="$missing, the group ${group} (environments.${env.name}.setup.journalGroup)"`]),
      `[ -z "$missing" ] && exit 0`,
      `printf '%s\\n' "\${missing#, }"`,
      "exit 1",
    ].join("\n"),
    refusal: "the host lacks what setup needs (nothing was changed)",
  });

  if (!isRoot) {
    steps.push({
      id: "user",
      change: `created user ${user} (no password, key login only)`,
      check: `id -u ${sq(user)} >/dev/null 2>&1`,
      // a group of that name may already be there (useradd --user-group would refuse it)
      apply: `set -eu\nif getent group ${sq(user)} >/dev/null; then useradd --create-home --shell /bin/bash --gid ${sq(user)} ${sq(user)}; else useradd --create-home --shell /bin/bash --user-group ${sq(user)}; fi\nusermod -p '*' ${sq(user)}`,
    });
    steps.push({
      id: "journal",
      change: `added ${user} to ${group} (reads the journal of ${env.unit})`,
      check: `id -nG ${sq(user)} | tr ' ' '\\n' | grep -qxF ${sq(group)}`,
      apply: `set -eu\nusermod -aG ${sq(group)} ${sq(user)}`,
    });
  }

  if (r.deployKey !== undefined) {
    const key = parseDeployKey(r.deployKey);
    const blob = key.split(" ").slice(0, 2).join(" ");
    const home = `home=$(getent passwd ${sq(user)} | cut -d: -f6); [ -n "$home" ] || exit 1`;
    steps.push({
      id: "deploy-key",
      change: `authorized the deploy key (${key.split(" ")[0]}) for ${user}`,
      check: `${home}\ngrep -qF -- ${sq(blob)} "$home/.ssh/authorized_keys" 2>/dev/null`,
      apply: `set -eu\n${home}\ninstall -d -m 0700 -o ${sq(user)} -g "$(id -gn ${sq(user)})" "$home/.ssh"\nprintf '%s\\n' ${sq(key)} >> "$home/.ssh/authorized_keys"\nchown ${sq(user)}:"$(id -gn ${sq(user)})" "$home/.ssh/authorized_keys"\nchmod 0600 "$home/.ssh/authorized_keys"`,
    });
  }

  steps.push({
    id: "layout",
    change: `created ${dirs.join(", ")} owned by ${user}`,
    check: `for d in ${dirs.map(sq).join(" ")}; do [ -d "$d" ] && [ "$(stat -c %U "$d")" = ${sq(user)} ] || exit 1; done`,
    apply: `set -eu\nfor d in ${dirs.map(sq).join(" ")}; do install -d -m 0755 "$d"; chown ${sq(user)}:"$(id -gn ${sq(user)})" "$d"; done`,
  });

  steps.push({
    id: "unit",
    change: `wrote ${unitPath} (${r.unitTemplate !== undefined ? `from ${env.setup.unitTemplate}` : "shipit's built-in unit"}) and reloaded systemd`,
    check: withText(`cmp -s ${sq(unitPath)} -`, unitText),
    apply: `set -eu\numask 022\n${withText(`cat > ${sq(`${unitPath}.shipit-new`)}`, unitText)}\nmv -f ${sq(`${unitPath}.shipit-new`)} ${sq(unitPath)}\n${SYSTEMCTL} daemon-reload`,
  });

  if (/^\[Install\]/m.test(unitText)) {
    steps.push({
      id: "enable",
      change: `enabled ${env.unit} (starts at boot once a release is live)`,
      check: `${SYSTEMCTL} is-enabled --quiet ${sq(env.unit)}`,
      apply: `set -eu\n${SYSTEMCTL} enable --quiet ${sq(env.unit)}`,
    });
  }

  if (!isRoot) {
    const file = sudoersFile(env);
    const rule = sudoersRule(env);
    steps.push({
      id: "sudoers",
      change: `wrote ${file}: ${user} may run only ${SUDO_VERBS.map((v) => `systemctl ${v} ${env.unit}`).join(", ")} (checked with visudo -cf)`,
      check: withText(`cmp -s ${sq(file)} -`, rule, ` && [ "$(stat -c %a:%U ${sq(file)})" = 440:root ] && visudo -cf ${sq(file)} >/dev/null`),
      apply: `set -eu\ntmp=$(mktemp)\ntrap 'rm -f "$tmp"' EXIT\n${withText(`cat > "$tmp"`, rule)}\nvisudo -cf "$tmp" >/dev/null\ninstall -m 0440 -o root -g root "$tmp" ${sq(file)}`,
    });
  }

  return {
    run: r.run,
    kind: "setup",
    env: env.name,
    ssh: {
      host: sshHost(r.via?.host ?? env.host),
      port: r.via?.port ?? env.port,
      user: env.setup.adminUser,
      identityFile: r.paths.identity,
      knownHostsFile: r.paths.knownHosts,
      connectTimeoutSec: 15,
    },
    remote: env.setup.adminUser === "root" ? ["sh", "-s"] : ["sudo", "-n", "sh", "-s"],
    steps,
  };
}
