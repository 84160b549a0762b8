/**
 * The GitHub side of the pipeline, shared by the Dagger functions (src/index.ts) and the tests:
 * the release preview, publishing a release with its artifact, the sticky PR comment, the
 * deployment records, and the notifications with the incident issue. Each takes the adapter and
 * plain data; none of them reads a secret itself.
 */
import { computeRelease, type ReleasePlan } from "../core/github/release.js";
import { parseCommentContext, renderComment } from "../core/github/comment.js";
import { readHistory, type GitReader } from "../runners/git.js";
import { GitHub, GitHubError, type DeploymentState } from "./github.js";
import { ShipitError } from "../core/errors.js";
import type { Notifications } from "../core/config/notifications.js";
import { buildMessage, type NotifyInput, type NotifyMessage } from "../core/notify/message.js";
import type { ResolvedConfig } from "../core/config/config.js";
import { resolveEnvironment } from "../core/config/environments.js";
import { decideIncident, incidentMarker } from "../core/notify/incident.js";
import { deliveryWarnings, routeTargets, type DeliveryRecord, type IncidentRecord } from "../core/notify/route.js";
import { deliver, type DeliverOptions } from "../runners/notify.js";

/** The next version and its notes, from the repository's tags and conventional commits. */
export async function previewRelease(git: GitReader, firstVersion: string, repo: string): Promise<ReleasePlan> {
  const { lastTag, commits } = await readHistory(git);
  return computeRelease({ lastTag, commits, firstVersion, repo });
}

interface ArtifactFacts {
  name: string;
  data: Buffer;
  /** The version in the artifact's manifest.json. */
  manifestVersion: string;
}

interface PublishedRelease {
  tag: string;
  version: string;
  releaseId: number;
  assetUrl: string;
}

/**
 * Tag `v<next>` at `commit` and publish a GitHub Release with the notes and the artifact attached.
 * Refuses, before any call, an artifact whose manifest carries another version, and a run with
 * nothing releasable.
 */
export async function publishRelease(gh: GitHub, plan: ReleasePlan, commit: string, artifact: ArtifactFacts): Promise<PublishedRelease> {
  if (plan.bump === "none" && plan.previous !== null) {
    throw new ShipitError("NOTHING_TO_RELEASE", `nothing to release: no feat, fix or breaking commit since v${plan.previous}. The shim skips release for such pushes; deploy the build as ${plan.previous}+g<sha> instead`);
  }
  if (artifact.manifestVersion !== plan.next) {
    throw new ShipitError(
      "ARTIFACT_VERSION_MISMATCH",
      `the artifact ${artifact.name} was built as version ${artifact.manifestVersion}, but this release is v${plan.next}. Fix: build it with --version=${plan.next} (the shim does), so the manifest and the tag agree`,
    );
  }
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new ShipitError("BAD_ARGUMENT", `--commit must be the full 40-hex sha being released, not "${commit}"`);
  const tag = `v${plan.next}`;
  let release;
  try {
    release = await gh.createRelease({ tag, name: tag, body: plan.notes, commitish: commit });
  } catch (error) {
    if (error instanceof GitHubError && error.status === 422 && /already_exists/.test(error.githubMessage)) {
      throw new ShipitError("RELEASE_EXISTS", `release ${tag} already exists on GitHub: it was published by an earlier run. Nothing was changed. Re-run the workflow from a new commit, or delete the release and its tag to publish again`);
    }
    throw error;
  }
  const asset = await gh.uploadReleaseAsset(release, { name: artifact.name, contentType: "application/gzip", data: artifact.data });
  return { tag, version: plan.next, releaseId: release.id, assetUrl: asset.browserDownloadUrl };
}

/**
 * Create or update the sticky comment from a context the shim wrote. With `headSha` (a fork's
 * comment, posted by a separate trusted workflow), the PR's head must be that commit: the context
 * came from the fork's own run and must not steer a comment onto another pull request.
 */
export async function postPrComment(gh: GitHub, rawContext: unknown, origin: string, headSha?: string): Promise<{ id: number; created: boolean; pr: number }> {
  const context = parseCommentContext(rawContext, origin);
  if (headSha !== undefined) {
    const head = await gh.pullHeadSha(context.pr);
    if (head !== headSha) {
      throw new ShipitError("CONTEXT_MISMATCH", `refusing to comment on PR #${context.pr}: its head is ${head}, but the run that wrote ${origin} built ${headSha}`);
    }
    if (!context.fork) throw new ShipitError("CONTEXT_MISMATCH", `refusing the context in ${origin}: it comes through the fork path but says the PR is not from a fork`);
  }
  const r = await gh.upsertStickyComment(context.pr, renderComment(context));
  return { ...r, pr: context.pr };
}

interface DeploymentRecord {
  env: string;
  ref: string;
  description: string;
  production: boolean;
  environmentUrl?: string;
  logUrl?: string;
}

/** Open a deployment in GitHub and mark it in progress; returns its id. */
export async function startDeployment(gh: GitHub, d: DeploymentRecord): Promise<number> {
  const id = await gh.createDeployment({ ref: d.ref, environment: d.env, description: d.description, productionEnvironment: d.production, transientEnvironment: !d.production });
  await gh.setDeploymentStatus(id, { state: "in_progress", logUrl: d.logUrl, environmentUrl: d.environmentUrl, description: d.description });
  return id;
}

export async function finishDeployment(gh: GitHub, id: number, state: Extract<DeploymentState, "success" | "failure" | "error">, d: { environmentUrl?: string; logUrl?: string; description: string }): Promise<void> {
  await gh.setDeploymentStatus(id, { state, environmentUrl: d.environmentUrl, logUrl: d.logUrl, description: d.description });
}

export interface NotifyOutcome {
  deliveries: DeliveryRecord[];
  incident: IncidentRecord;
  /** One line per failed delivery or incident call: for the run's output and the PR comment. */
  warnings: string[];
}

/**
 * Tell every target routed for the message's event, and bring the environment's incident issue up
 * to date. Never throws for a delivery or a GitHub call that fails: each ends as a record, and
 * the failed ones as warnings. `urls` maps secret names to the URLs the caller was given.
 */
export async function sendNotifications(o: { message: NotifyMessage; notifications: Notifications; urls: Record<string, string | undefined>; gh?: GitHub; deliver?: DeliverOptions }): Promise<NotifyOutcome> {
  const routed = routeTargets(o.notifications, o.message.event);
  const [deliveries, incident] = await Promise.all([
    Promise.all(
      routed.map((t): Promise<DeliveryRecord> => {
        const url = o.urls[t.secret];
        if (url) return deliver({ kind: t.kind, secret: t.secret, url }, o.message, o.deliver);
        const cause = `the secret ${t.secret} was not given: add it as a repository secret and pass it in the workflow's env (CONFIGURATION.md, Notifications)`;
        return Promise.resolve({ target: t.kind, secret: t.secret, event: o.message.event, status: "failed", attempts: 0, cause });
      }),
    ),
    syncIncident(o.gh, o.message, o.notifications.incident),
  ]);
  return { deliveries, incident, warnings: deliveryWarnings(deliveries, incident) };
}

export interface NotifyReport extends NotifyOutcome {
  env: string;
  event: NotifyMessage["event"];
  headline: string;
}

/**
 * `notify` as the Dagger function and `shipit notify` run it: the environment's settings from the
 * config (its host need not be set), the message, then every delivery and the incident issue.
 * A malformed argument or config is an error; a delivery that fails is a record and a warning.
 */
export async function notifyFromConfig(config: ResolvedConfig, input: NotifyInput, urls: Record<string, string | undefined>, gh?: GitHub, deliver?: DeliverOptions): Promise<NotifyReport> {
  const env = resolveEnvironment(input.env, config.environments, config.origin, { requireHost: false });
  const message = buildMessage({ ...input, environmentUrl: input.environmentUrl ?? (env.url || undefined) });
  const outcome = await sendNotifications({ message, notifications: env.notifications, urls, gh, deliver });
  return { env: message.env, event: message.event, headline: message.headline, ...outcome };
}

/** Open, update or close the environment's one incident issue, as the core decides. */
export async function syncIncident(gh: GitHub | undefined, m: NotifyMessage, config: Notifications["incident"]): Promise<IncidentRecord> {
  const quiet = decideIncident(m, config, null);
  if (quiet.action === "none" && (!config.enabled || m.event === "release-published")) return { action: "none", detail: quiet.reason };
  if (!gh) return { action: "failed", detail: "no GitHub token was given (--token), so the incident issue could not be looked up" };
  const marker = incidentMarker(m.env);
  try {
    const open = await gh.findOpenIncident(marker);
    const d = decideIncident(m, config, open);
    switch (d.action) {
      case "none":
        return { action: "none", detail: d.reason };
      case "open": {
        const issue = await gh.openIncident(marker, d);
        return { action: "opened", number: issue.number, url: issue.url };
      }
      case "update":
        await gh.updateIncident(marker, d.number, d);
        return { action: "updated", number: d.number, url: open!.url };
      case "close":
        await gh.closeIncident(d.number, d.comment);
        return { action: "closed", number: d.number, url: open!.url };
    }
  } catch (error) {
    return { action: "failed", detail: error instanceof Error ? error.message : String(error) };
  }
}
