import { describe, expect, test } from "vitest";
import { resolveEnvironment } from "../../../src/core/config/environments.js";
import { parseUserConfig } from "../../../src/core/config/config.js";
import { ConfigError } from "../../../src/core/errors.js";
import { FAILURE_EVENTS, NOTIFY_EVENTS } from "../../../src/core/config/notifications.js";

function configError(envs: Record<string, unknown>): ConfigError {
  try {
    parseUserConfig(JSON.stringify({ environments: envs }), "shipit.json");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults", () => {
  test("test hears failures only and opens no incident; prod hears everything and opens one", () => {
    const test = resolveEnvironment("test", { test: { host: "h" } }).notifications;
    const prod = resolveEnvironment("prod", { prod: { host: "h" } }).notifications;
    expect(test).toEqual({ events: ["deploy-failed", "rolled-back", "rollback-failed"], targets: [], incident: { enabled: false, labels: ["incident"], assignees: [] } });
    expect(prod).toEqual({ events: [...NOTIFY_EVENTS], targets: [], incident: { enabled: true, labels: ["incident", "prod"], assignees: [] } });
  });

  test("a target list merges over the defaults; a target's own events are kept, the rest default", () => {
    const n = resolveEnvironment("prod", {
      prod: { host: "h", notifications: { targets: [{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }, { kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK", events: ["rollback-failed"] }], incident: { assignees: ["octocat"] } } }, // pragma: allowlist secret (a secret's name, not a value)
    }).notifications;
    expect(n.targets).toEqual([{ kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }, { kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK", events: ["rollback-failed"] }]); // pragma: allowlist secret (a secret's name, not a value)
    expect(n.events).toEqual([...NOTIFY_EVENTS]);
    expect(n.incident).toEqual({ enabled: true, labels: ["incident", "prod"], assignees: ["octocat"] });
  });

  test("a new environment without notifications gets the schema's defaults: failures, no targets, no incident", () => {
    const { name: _name, notifications: _n, ...whole } = resolveEnvironment("test", { test: { host: "h" } });
    const staging = resolveEnvironment("staging", { staging: whole });
    expect(staging.notifications).toEqual({ events: [...FAILURE_EVENTS], targets: [], incident: { enabled: false, labels: ["incident"], assignees: [] } });
  });

  test("notifications need no host: a laptop can resolve them before the host is set", () => {
    expect(() => resolveEnvironment("prod", {})).toThrow(`environments.prod.host = "": is not set`);
    expect(resolveEnvironment("prod", {}, "shipit.json", { requireHost: false }).notifications.incident.enabled).toBe(true);
  });
});

describe("bad notifications are config errors naming the key and the fix", () => {
  test("unknown keys, kinds and events get a did-you-mean, at every level", () => {
    const e = configError({
      prod: { notifications: { evnts: [], targets: [{ kind: "slak", secret: "SHIPIT_SLACK_WEBHOOK", events: ["deploy-faild"], evnts: [] }], incident: { assignes: [] } } }, // pragma: allowlist secret (a secret's name, not a value)
    });
    expect(e.message).toMatchInlineSnapshot(`
      "invalid shipit config (shipit.json):
        - environments.prod.notifications.targets[0].kind = "slak": Invalid option: expected one of "slack"|"discord"|"webhook". Fix: did you mean "slack"? use one of "slack", "discord", "webhook"
        - environments.prod.notifications.targets[0].events[0] = "deploy-faild": is not a notification event. Fix: did you mean "deploy-failed"? events are: deploy-succeeded, deploy-failed, rolled-back, rollback-failed, manual-rollback, release-published
        - environments.prod.notifications.targets[0].evnts = []: is not a known key. Fix: did you mean "events"? Known keys here: kind, secret, events
        - environments.prod.notifications.incident.assignes = []: is not a known key. Fix: did you mean "assignees"? Known keys here: enabled, labels, assignees
        - environments.prod.notifications.evnts = []: is not a known key. Fix: did you mean "events"? Known keys here: events, targets, incident"
    `);
  });

  test("an event that is no near miss lists them all", () => {
    const e = configError({ test: { notifications: { events: ["everything"] } } });
    expect(e.issues).toEqual([
      { code: "INVALID_FORMAT", path: ["environments", "test", "notifications", "events", 0], key: "environments.test.notifications.events[0]", value: "everything", problem: "is not a notification event", fix: `events are: ${NOTIFY_EVENTS.join(", ")}` },
    ]);
  });

  test("a webhook URL where the secret's name belongs is refused, and never echoed", () => {
    const url = "https://hooks.slack.com/services/T0CANARY/B0CANARY/canaryCANARYcanary"; // pragma: allowlist secret (a canary, not a webhook)
    const e = configError({ prod: { notifications: { targets: [{ kind: "slack", secret: url }] } } });
    expect(e.issues).toEqual([
      {
        code: "INVALID_FORMAT", path: ["environments", "prod", "notifications", "targets", 0, "secret"], key: "environments.prod.notifications.targets[0].secret",
        value: "[redacted]",
        problem: "is a URL, not the name of a secret",
        fix: "store the webhook URL as a repository secret (e.g. SHIPIT_SLACK_WEBHOOK) and put that name here; a webhook URL committed to shipit.json is leaked: revoke it and make a new one",
      },
    ]);
    expect(e.message).not.toContain("hooks.slack.com");
    expect(e.message).not.toContain("canary");
  });

  test.each([
    [{ targets: [{ kind: "slack", secret: "slack hook" }] }, "targets[0].secret", "must be a secret name in upper case"], // pragma: allowlist secret (a secret's name, not a value)
    [{ targets: [{ kind: "slack" }] }, "targets[0].secret", "expected string, received undefined"],
    [{ incident: { labels: ["a,b"] } }, "incident.labels[0]", "must be a GitHub label"],
    [{ incident: { assignees: ["-mallory"] } }, "incident.assignees[0]", "must be a GitHub user name"],
    [{ incident: { enabled: "yes" } }, "incident.enabled", "expected boolean"],
    [{ targets: Array.from({ length: 11 }, () => ({ kind: "webhook", secret: "HOOK" })) }, "targets", "Too big"],
  ])("%j → %s", (notifications, key, problem) => {
    const e = configError({ prod: { notifications } });
    expect(e.issues.map((i) => i.key)).toEqual([`environments.prod.notifications.${key}`]);
    expect(e.issues[0]!.problem).toContain(problem);
  });
});
