import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { buildMessage, type NotifyInput } from "../../../src/core/notify/message.js";
import { decideIncident, incidentBody, incidentMarker, incidentTitle, RUNBOOK_SECTIONS } from "../../../src/core/notify/incident.js";
import { deliveryLine, deliveryWarnings, routeTargets, secretsFor } from "../../../src/core/notify/route.js";
import type { Notifications } from "../../../src/core/config/notifications.js";

const Z = "\u200b";
const ON = { enabled: true, labels: ["incident", "prod"], assignees: ["octocat"] };
const failed: NotifyInput = {
  env: "prod",
  event: "rolled-back",
  version: "1.3.0",
  live: "1.2.0-20261120T100000Z",
  commit: "0123456789abcdef0123456789abcdef01234567", // pragma: allowlist secret (a commit sha)
  actor: "octocat",
  cause: "deploy of 1.3.0 to prod FAILED at health: bot not connected (HEALTH_NOT_CONNECTED)",
  durationSec: 95,
  runUrl: "https://github.com/acme/rosey/actions/runs/9001",
  at: "2026-11-27T10:00:00Z",
};
const open = { number: 101, title: "Incident: …", body: `${incidentMarker("prod")}\nold` };

describe("decisions", () => {
  test("a failure with no open incident opens one, with the configured labels and assignees", () => {
    const m = buildMessage(failed);
    expect(decideIncident(m, ON, null)).toEqual({ action: "open", title: incidentTitle(m), body: incidentBody(m), labels: ["incident", "prod"], assignees: ["octocat"] });
  });

  test("a failure with one open updates that one (never a second), its title saying the latest state", () => {
    const m = buildMessage({ ...failed, event: "rollback-failed", live: undefined });
    const d = decideIncident(m, ON, open);
    expect(d).toMatchObject({ action: "update", number: 101, title: "Incident: prod is DOWN: the deploy of 1.3.0 failed and so did its rollback", body: incidentBody(m) });
    expect(d.action === "update" && d.comment).toContain("**Another failure:** 🚨 prod is DOWN");
  });

  test("a healthy deploy or manual rollback closes the open one with a comment; with none open it does nothing", () => {
    for (const event of ["deploy-succeeded", "manual-rollback"]) {
      const m = buildMessage({ ...failed, event, live: "1.3.1-20261127T120000Z", cause: undefined });
      const d = decideIncident(m, ON, open);
      expect(d).toMatchObject({ action: "close", number: 101 });
      expect(d.action === "close" && d.comment).toContain("1.3.1-20261127T120000Z");
      expect(decideIncident(m, ON, null)).toEqual({ action: "none", reason: "prod is healthy and has no open incident" });
    }
  });

  test("a failed manual rollback is a failure; a release and an environment without incidents are left alone", () => {
    expect(decideIncident(buildMessage({ ...failed, event: "manual-rollback", failed: true }), ON, open).action).toBe("update");
    expect(decideIncident(buildMessage({ ...failed, event: "release-published", cause: undefined }), ON, open)).toEqual({ action: "none", reason: "a release is no incident" });
    expect(decideIncident(buildMessage({ ...failed, env: "test" }), { ...ON, enabled: false }, null)).toEqual({ action: "none", reason: "incidents are off for test (environments.test.notifications.incident.enabled)" });
  });
});

describe("the issue body", () => {
  test("names version, cause, what is live, the run and the RUNBOOK section, behind the marker", () => {
    expect(incidentBody(buildMessage(failed))).toBe(
      [
        "<!-- shipit:incident:prod -->",
        "## ↩️ prod: the deploy of 1.3.0 failed and was rolled back automatically",
        "",
        "| | |",
        "|---|---|",
        "| Environment | prod |",
        "| Version | 1.3.0 |",
        "| Live now | 1.2.0-20261120T100000Z |",
        "| Trigger | merge commit 0123456 |",
        "| Started by | octocat |",
        "| Duration | 95.0 s |",
        "| Run | [workflow run](https://github.com/acme/rosey/actions/runs/9001) |",
        "| When | 2026-11-27T10:00:00Z |",
        "",
        "### Cause",
        "",
        "```",
        "deploy of 1.3.0 to prod FAILED at health: bot not connected (HEALTH_NOT_CONNECTED)",
        "```",
        "",
        "### What to do",
        "",
        "Follow RUNBOOK.md, section “3. Roll back first, investigate later”.",
        "",
        "shipit keeps this issue up to date: each further failure of prod is added here, and the next healthy deploy or rollback closes it.",
        "",
      ].join("\n"),
    );
  });

  test("DOWN says act now and sends people to the rollback-failed section", () => {
    const body = incidentBody(buildMessage({ ...failed, event: "rollback-failed" }));
    expect(body).toContain("**prod may be down: act now.** Follow RUNBOOK.md, section “A deploy and its rollback failed”.");
  });

  test("a hostile PR title and cause can neither mention nor link nor close the code block", () => {
    const body = incidentBody(buildMessage({ ...failed, commit: undefined, pr: 12, prTitle: "@everyone [x](http://evil.example) <img src=x> evil.example", cause: "```\n@here <!-- -->" }));
    expect(body).toContain(`| Trigger | PR \\#12: @${Z}everyone \\[x\\]\\(http:${Z}//evil.${Z}example\\) \\<img src=x\\> evil.${Z}example |`);
    expect(body).toContain("````\n```\n@here <!\u200b-- -->\n````");
  });

  test("every RUNBOOK section named exists as a heading in RUNBOOK.md", () => {
    const headings = readFileSync(new URL("../../../RUNBOOK.md", import.meta.url), "utf8").split("\n").filter((l) => l.startsWith("#")).map((l) => l.replace(/^#+\s*/, ""));
    for (const s of Object.values(RUNBOOK_SECTIONS)) expect(headings).toContain(s);
    expect(headings).toContain("7. After the incident");
  });
});

describe("routes and delivery records", () => {
  const n: Notifications = {
    events: ["deploy-failed", "rolled-back", "rollback-failed"],
    targets: [
      { kind: "slack", secret: "SHIPIT_SLACK_WEBHOOK" }, // pragma: allowlist secret (a secret's name, not a value)
      { kind: "discord", secret: "SHIPIT_DISCORD_WEBHOOK", events: ["rollback-failed", "deploy-succeeded"] }, // pragma: allowlist secret (a secret's name, not a value)
      { kind: "webhook", secret: "SHIPIT_SLACK_WEBHOOK", events: ["deploy-succeeded"] }, // pragma: allowlist secret (a secret's name, not a value)
    ],
    incident: ON,
  };

  test("a target hears its own events, or else the environment's", () => {
    expect(routeTargets(n, "rolled-back").map((t) => t.kind)).toEqual(["slack"]);
    expect(routeTargets(n, "rollback-failed").map((t) => t.kind)).toEqual(["slack", "discord"]);
    expect(routeTargets(n, "deploy-succeeded").map((t) => t.kind)).toEqual(["discord", "webhook"]);
    expect(routeTargets(n, "release-published")).toEqual([]);
    expect(secretsFor(n, "deploy-succeeded")).toEqual(["SHIPIT_DISCORD_WEBHOOK", "SHIPIT_SLACK_WEBHOOK"]);
  });

  test("lines and warnings name the target by kind and secret name", () => {
    const ok = { target: "slack", secret: "SHIPIT_SLACK_WEBHOOK", event: "rolled-back", status: "delivered", attempts: 1, httpStatus: 200 } as const; // pragma: allowlist secret (a secret's name, not a value)
    const bad = { target: "discord", secret: "SHIPIT_DISCORD_WEBHOOK", event: "rolled-back", status: "failed", attempts: 4, httpStatus: 503, cause: "HTTP 503 on each of 4 attempts" } as const; // pragma: allowlist secret (a secret's name, not a value)
    expect(deliveryLine(ok)).toBe("slack (SHIPIT_SLACK_WEBHOOK): rolled-back delivered, 1 attempt");
    expect(deliveryWarnings([ok, bad], { action: "failed", detail: "GitHub POST /repos/{owner}/{repo}/issues failed: HTTP 403: Resource not accessible by integration" })).toEqual([
      "notification not delivered: discord (SHIPIT_DISCORD_WEBHOOK): rolled-back NOT delivered after 4 attempts: HTTP 503 on each of 4 attempts",
      "incident issue not updated: GitHub POST /repos/{owner}/{repo}/issues failed: HTTP 403: Resource not accessible by integration",
    ]);
    expect(deliveryWarnings([ok], { action: "opened", number: 3 })).toEqual([]);
  });
});
