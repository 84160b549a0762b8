/**
 * The GitHub adapter: the few REST calls the pipeline makes, over Octokit.
 *
 * - one sticky PR comment, found by a hidden marker and updated in place;
 * - deployments and their statuses (the Deployments API);
 * - releases and their assets (uploaded to the `upload_url` GitHub answers with);
 * - an environment's one incident issue, found by a hidden marker as the sticky comment is.
 *
 * The token never reaches a log line or an error message: Octokit's logger is silenced, and every
 * failure is rethrown as a `GitHubError` built only from the status, method, route and GitHub's
 * own message (never the request headers), with the token scrubbed out as a last guard.
 */
import { Octokit } from "@octokit/rest";
import { STICKY_MARKER } from "../core/github/comment.js";
import { InfraError, ShipitError } from "../core/errors.js";

export { STICKY_MARKER };

/** GitHub truncates nothing for us: a deployment status description longer than this is a 422. */
const STATUS_DESCRIPTION_MAX = 140;

interface GitHubOptions {
  token: string;
  owner: string;
  repo: string;
  /** The REST API root; tests point it at a local stand-in. Default https://api.github.com. */
  baseUrl?: string;
}

export type DeploymentState = "in_progress" | "success" | "failure" | "error" | "inactive";

interface DeploymentInput {
  ref: string;
  environment: string;
  description: string;
  transientEnvironment?: boolean;
  productionEnvironment?: boolean;
}

interface DeploymentStatusInput {
  state: DeploymentState;
  environmentUrl?: string;
  logUrl?: string;
  description?: string;
}

export interface ReleaseInput {
  tag: string;
  name: string;
  body: string;
  commitish: string;
}

export interface Release {
  id: number;
  /** GitHub's URI template, e.g. `https://uploads.github.com/repos/o/r/releases/1/assets{?name,label}`. */
  uploadUrl: string;
}

interface ReleaseAssetInput {
  name: string;
  contentType: string;
  data: Buffer;
}

export interface ReleaseAsset {
  id: number;
  browserDownloadUrl: string;
}

export interface Incident {
  number: number;
  title: string;
  body: string;
  url: string;
}

interface IncidentInput {
  title: string;
  body: string;
  labels: string[];
  assignees: string[];
}

/**
 * A failed GitHub call: the status, the method and route template, and GitHub's own message. A
 * service failure: InfraError GITHUB_API_FAILED (exit code 3).
 */
export class GitHubError extends InfraError {
  override readonly name = "GitHubError";
  constructor(
    /** The HTTP status, or 0 when no answer came back (network failure). */
    readonly status: number,
    readonly method: string,
    /** The route template, e.g. `/repos/{owner}/{repo}/releases`. */
    readonly route: string,
    /** GitHub's `message` (plus its validation `errors`, when it gave any). */
    readonly githubMessage: string,
  ) {
    super("GITHUB_API_FAILED", `GitHub ${method} ${route} failed: ${status === 0 ? "no response" : `HTTP ${status}`}: ${githubMessage}`);
  }
}

interface GitHubErrorBody {
  message?: unknown;
  errors?: unknown;
}

export class GitHub {
  readonly #octokit: Octokit;
  readonly #token: string;
  readonly #owner: string;
  readonly #repo: string;

  constructor(options: GitHubOptions) {
    if (!options.token) throw new ShipitError("SECRET_MISSING", "GitHub: an API token is required");
    this.#token = options.token;
    this.#owner = options.owner;
    this.#repo = options.repo;
    const silent = () => {};
    this.#octokit = new Octokit({
      auth: options.token,
      baseUrl: (options.baseUrl ?? "https://api.github.com").replace(/\/+$/, ""),
      userAgent: "shipit",
      // Octokit's request log is not ours to print; our errors carry what matters.
      log: { debug: silent, info: silent, warn: silent, error: silent },
    });
  }

  /** Create shipit's one comment on the PR, or update it in place when it is already there. */
  async upsertStickyComment(prNumber: number, body: string): Promise<{ id: number; created: boolean }> {
    const text = body.includes(STICKY_MARKER) ? body : `${STICKY_MARKER}\n${body}`;
    const owner = this.#owner;
    const repo = this.#repo;
    const listRoute = "GET /repos/{owner}/{repo}/issues/{issue_number}/comments";
    const comments = await this.#call(listRoute, () =>
      this.#octokit.paginate(listRoute, { owner, repo, issue_number: prNumber, per_page: 100 }),
    );
    const existing = comments.find((c) => (c.body ?? "").includes(STICKY_MARKER));
    if (existing) {
      const route = "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}";
      const res = await this.#call(route, () =>
        this.#octokit.request(route, { owner, repo, comment_id: existing.id, body: text }),
      );
      return { id: Number(res.data.id), created: false };
    }
    const route = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments";
    const res = await this.#call(route, () =>
      this.#octokit.request(route, { owner, repo, issue_number: prNumber, body: text }),
    );
    return { id: Number(res.data.id), created: true };
  }

  /** The head commit of a pull request (to check that a fork's comment belongs to the run that wrote it). */
  async pullHeadSha(prNumber: number): Promise<string> {
    const route = "GET /repos/{owner}/{repo}/pulls/{pull_number}";
    const res = await this.#call(route, () => this.#octokit.request(route, { owner: this.#owner, repo: this.#repo, pull_number: prNumber }));
    return res.data.head.sha;
  }

  /** Create a deployment of `ref` to `environment`; returns its id. Never auto-merges, waits on no checks. */
  async createDeployment(input: DeploymentInput): Promise<number> {
    const route = "POST /repos/{owner}/{repo}/deployments";
    const res = await this.#call(route, () =>
      this.#octokit.request(route, {
        owner: this.#owner,
        repo: this.#repo,
        ref: input.ref,
        environment: input.environment,
        description: input.description,
        auto_merge: false,
        required_contexts: [],
        ...(input.transientEnvironment === undefined ? {} : { transient_environment: input.transientEnvironment }),
        ...(input.productionEnvironment === undefined ? {} : { production_environment: input.productionEnvironment }),
      }),
    );
    // 202 is GitHub's "merged the base branch instead" answer, impossible with auto_merge: false.
    if (res.status !== 201 || !("id" in res.data)) {
      const message = "message" in res.data ? String(res.data.message) : "no deployment was created";
      throw new GitHubError(res.status, "POST", "/repos/{owner}/{repo}/deployments", this.#scrub(message));
    }
    return Number(res.data.id);
  }

  /** Set a deployment's state, with the environment and log links GitHub shows next to it. */
  async setDeploymentStatus(deploymentId: number, input: DeploymentStatusInput): Promise<void> {
    const route = "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses";
    await this.#call(route, () =>
      this.#octokit.request(route, {
        owner: this.#owner,
        repo: this.#repo,
        deployment_id: deploymentId,
        state: input.state,
        ...(input.environmentUrl === undefined ? {} : { environment_url: input.environmentUrl }),
        ...(input.logUrl === undefined ? {} : { log_url: input.logUrl }),
        ...(input.description === undefined
          ? {}
          : { description: truncate(input.description, STATUS_DESCRIPTION_MAX) }),
      }),
    );
  }

  /** Create a published release of `tag` (created at `commitish` when the tag does not exist yet). */
  async createRelease(input: ReleaseInput): Promise<Release> {
    const route = "POST /repos/{owner}/{repo}/releases";
    const res = await this.#call(route, () =>
      this.#octokit.request(route, {
        owner: this.#owner,
        repo: this.#repo,
        tag_name: input.tag,
        name: input.name,
        body: input.body,
        target_commitish: input.commitish,
        draft: false,
        prerelease: false,
      }),
    );
    return { id: res.data.id, uploadUrl: res.data.upload_url };
  }

  /** Upload a file to a release, at the `upload_url` GitHub gave for it (the uploads host). */
  async uploadReleaseAsset(release: Release, asset: ReleaseAssetInput): Promise<ReleaseAsset> {
    const label = "POST /repos/{owner}/{repo}/releases/{release_id}/assets";
    const res = await this.#call(label, () =>
      // `url` replaces the route's URL; Octokit expands its `{?name,label}` template with `name`.
      this.#octokit.request("POST {url}", {
        url: release.uploadUrl,
        name: asset.name,
        data: asset.data,
        headers: { "content-type": asset.contentType },
      }),
    );
    const data = res.data as { id: number; browser_download_url: string };
    return { id: data.id, browserDownloadUrl: data.browser_download_url };
  }

  /**
   * The open issue whose body carries `marker`, or null. Pull requests (which the issues list
   * includes) are skipped; of two marked issues (one copied by hand), the oldest is the incident.
   */
  async findOpenIncident(marker: string): Promise<Incident | null> {
    const route = "GET /repos/{owner}/{repo}/issues";
    const issues = await this.#call(route, () =>
      this.#octokit.paginate(route, { owner: this.#owner, repo: this.#repo, state: "open", sort: "created", direction: "asc", per_page: 100 }),
    );
    const found = issues.filter((i) => !i.pull_request && (i.body ?? "").includes(marker)).sort((a, b) => a.number - b.number)[0];
    return found ? { number: found.number, title: found.title, body: found.body ?? "", url: found.html_url } : null;
  }

  /** Open the incident issue, with its labels and assignees. */
  async openIncident(marker: string, input: IncidentInput): Promise<Incident> {
    const body = withMarker(marker, input.body);
    const route = "POST /repos/{owner}/{repo}/issues";
    const res = await this.#call(route, () =>
      this.#octokit.request(route, { owner: this.#owner, repo: this.#repo, title: input.title, body, labels: input.labels, assignees: input.assignees }),
    );
    return { number: res.data.number, title: res.data.title, body: res.data.body ?? body, url: res.data.html_url };
  }

  /** Bring the open incident up to date: its title and body say the latest state, a comment the new failure. */
  async updateIncident(marker: string, number: number, input: { title: string; body: string; comment: string }): Promise<void> {
    const route = "PATCH /repos/{owner}/{repo}/issues/{issue_number}";
    await this.#call(route, () =>
      this.#octokit.request(route, { owner: this.#owner, repo: this.#repo, issue_number: number, title: input.title, body: withMarker(marker, input.body) }),
    );
    await this.#comment(number, input.comment);
  }

  /** Say why the incident is over, then close it as completed. */
  async closeIncident(number: number, comment: string): Promise<void> {
    await this.#comment(number, comment);
    const route = "PATCH /repos/{owner}/{repo}/issues/{issue_number}";
    await this.#call(route, () =>
      this.#octokit.request(route, { owner: this.#owner, repo: this.#repo, issue_number: number, state: "closed", state_reason: "completed" }),
    );
  }

  async #comment(number: number, body: string): Promise<void> {
    const route = "POST /repos/{owner}/{repo}/issues/{issue_number}/comments";
    await this.#call(route, () => this.#octokit.request(route, { owner: this.#owner, repo: this.#repo, issue_number: number, body }));
  }

  /** Run one call; turn any failure into a GitHubError without headers or token. */
  async #call<T>(route: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const [method = "?", path = route] = route.split(" ");
      const status = statusOf(error);
      const message = status === 0 ? causeOf(error) : githubMessageOf(error);
      throw new GitHubError(status, method, path, this.#scrub(message));
    }
  }

  #scrub(text: string): string {
    return text.split(this.#token).join("[REDACTED]");
  }
}

function withMarker(marker: string, body: string): string {
  return body.includes(marker) ? body : `${marker}\n${body}`;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function statusOf(error: unknown): number {
  // Octokit reports a network failure as a 500 without a response; that is "no answer", not GitHub's 500.
  if (!(error as { response?: unknown } | null)?.response) return 0;
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" && Number.isFinite(status) ? status : 0;
}

/** GitHub's `message`, and its validation errors (`Release.tag_name already_exists`) when present. */
function githubMessageOf(error: unknown): string {
  const data = (error as { response?: { data?: unknown } }).response?.data;
  if (data && typeof data === "object") {
    const body = data as GitHubErrorBody;
    const message = typeof body.message === "string" ? body.message : "unknown error";
    const details = Array.isArray(body.errors) ? body.errors.map(describeValidationError).filter(Boolean) : [];
    return details.length ? `${message} (${details.join("; ")})` : message;
  }
  if (typeof data === "string" && data.trim()) return data.trim().slice(0, 500);
  return error instanceof Error ? error.message : String(error);
}

function describeValidationError(e: unknown): string {
  if (typeof e === "string") return e;
  if (!e || typeof e !== "object") return "";
  const { resource, field, code, message } = e as Record<string, unknown>;
  if (typeof message === "string" && message) return message;
  const where = [resource, field].filter((x) => typeof x === "string").join(".");
  return [where, typeof code === "string" ? code : ""].filter(Boolean).join(" ");
}

/** A network failure: the underlying reason (ECONNREFUSED …), not the request. */
function causeOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === "string" ? `${error.message} (${code})` : `${error.message} (${cause.message})`;
  }
  return error.message;
}
