/**
 * A local stand-in for the slice of GitHub's REST API that src/github/github.ts uses, with GitHub's
 * request and response shapes, in-memory state, and a log of every request for the tests to assert.
 *
 * Endpoints: a pull request (its head), issue comments (list with Link pagination, create, update), deployments and their
 * statuses, releases, release asset uploads (on the same host: `upload_url` points back here), and
 * issues (list open or closed with Link pagination, pull requests included as GitHub does; create,
 * update, close).
 * A wrong or missing token is a 401, an unknown route a 404, a duplicate release tag a 422.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen.js";

export interface RecordedRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: Record<string, string>;
  /** Lower-cased request headers, without `authorization`. */
  headers: Record<string, string>;
  /** Whether the request carried `authorization: token <the token>` or `Bearer <the token>`. */
  authorized: boolean;
  /** The authorization scheme sent (`token`, `bearer`), lower-cased; undefined when there was none. */
  authScheme?: string;
  /** The parsed JSON body, for JSON requests. */
  body?: unknown;
  /** The byte length of the body, for uploads. */
  bytes?: number;
  status: number;
}

export interface FakeUser {
  login: string;
  id: number;
  type: "User" | "Bot";
}

interface Comment {
  id: number;
  node_id: string;
  url: string;
  html_url: string;
  issue_url: string;
  body: string;
  user: FakeUser & { node_id: string; url: string; html_url: string };
  created_at: string;
  updated_at: string;
  author_association: string;
}

interface Deployment {
  id: number;
  [key: string]: unknown;
}

interface Release {
  id: number;
  tag_name: string;
  upload_url: string;
  assets: Asset[];
  [key: string]: unknown;
}

interface Asset {
  id: number;
  name: string;
  label: string | null;
  content_type: string;
  size: number;
  [key: string]: unknown;
}

export interface FakeIssue {
  id: number;
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  state_reason: string | null;
  labels: { name: string }[];
  assignees: { login: string }[];
  html_url: string;
  url: string;
  /** Set on a pull request, which the issues list includes. */
  pull_request?: { url: string };
  created_at: string;
  updated_at: string;
  [key: string]: unknown;
}

export interface FakeGitHubOptions {
  token: string;
  owner: string;
  repo: string;
  /** The user the token belongs to (the author of comments it creates). */
  user?: FakeUser;
}

const DOCS = "https://docs.github.com/rest";
const STATES = new Set(["error", "failure", "inactive", "in_progress", "queued", "pending", "success"]);

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  readonly comments = new Map<number, Comment[]>();
  readonly deployments: Deployment[] = [];
  readonly deploymentStatuses = new Map<number, Record<string, unknown>[]>();
  readonly releases: Release[] = [];
  /** Raw bytes of every uploaded asset, by asset id. */
  readonly assetData = new Map<number, Buffer>();
  /** Pull requests the stand-in knows: number → head sha (GET /pulls/{n} answers with them). */
  readonly pulls = new Map<number, { headSha: string; headRepo: string }>();
  /** Issues (and pull requests listed as issues) by number. */
  readonly issues = new Map<number, FakeIssue>();
  /** Logins the repository knows: an assignee outside them is a 422, as on GitHub. Empty: anyone. */
  readonly collaborators = new Set<string>();

  #server: Server | undefined;
  #nextId = 1000;
  #nextIssue = 100;
  #port = 0;
  readonly #user: FakeUser;

  constructor(readonly options: FakeGitHubOptions) {
    this.#user = options.user ?? { login: "github-actions[bot]", id: 41898282, type: "Bot" };
  }

  get url(): string {
    if (!this.#server) throw new Error("FakeGitHub is not started");
    return `http://127.0.0.1:${this.#port}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        this.#send(res, 500, { message: `fake-github: ${String(error)}`, documentation_url: DOCS });
      });
    });
    this.#port = await listenOnLoopback(server);
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Seed a comment by someone else (or anything the test wants already on the PR). */
  seedComment(issue: number, body: string, user: FakeUser = { login: "octocat", id: 583231, type: "User" }): number {
    return this.#addComment(issue, body, user).id;
  }

  /** Seed an issue (or, with `pullRequest`, a pull request as the issues list shows it); returns its number. */
  seedIssue(init: { title: string; body: string; state?: "open" | "closed"; pullRequest?: boolean }): number {
    return this.#issue({ title: init.title, body: init.body }, init.state ?? "open", init.pullRequest ?? false).number;
  }

  /** Only the requests the adapter made, as `METHOD /path` lines, for order assertions. */
  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  // ---- routing -------------------------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const raw = await readBody(req);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (k === "authorization" || v === undefined) continue;
      headers[k] = Array.isArray(v) ? v.join(", ") : v;
    }
    const auth = /^(\S+)\s+(.*)$/.exec(req.headers.authorization ?? "");
    const authScheme = auth?.[1]?.toLowerCase();
    const authorized = !!auth && (authScheme === "token" || authScheme === "bearer") && auth[2] === this.options.token;
    const isJson = (headers["content-type"] ?? "").startsWith("application/json");
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      authorized,
      ...(authScheme ? { authScheme } : {}),
      status: 0,
    };
    let body: unknown;
    if (raw.length > 0) {
      if (isJson) {
        try {
          body = JSON.parse(raw.toString("utf8"));
        } catch {
          record.bytes = raw.length;
          this.requests.push(record);
          return this.#reply(record, res, 400, { message: "Problems parsing JSON", documentation_url: DOCS });
        }
        record.body = body;
      } else {
        record.bytes = raw.length;
      }
    }
    this.requests.push(record);

    if (!authorized) {
      return this.#reply(record, res, 401, { message: "Bad credentials", documentation_url: DOCS, status: "401" });
    }

    const { owner, repo } = this.options;
    const base = `/repos/${owner}/${repo}`;
    const method = record.method;
    const input = (body ?? {}) as Record<string, unknown>;
    let match: RegExpExecArray | null;

    if (!url.pathname.startsWith(`${base}/`)) return this.#notFound(record, res);
    const rest = url.pathname.slice(base.length);

    if (rest === "/issues") {
      if (method === "GET") {
        const state = url.searchParams.get("state") ?? "open";
        const all = [...this.issues.values()].filter((i) => state === "all" || i.state === state);
        all.sort((a, b) => a.number - b.number);
        if ((url.searchParams.get("direction") ?? "desc") === "desc") all.reverse();
        return this.#page(record, res, url, all);
      }
      if (method === "POST") {
        if (typeof input.title !== "string" || !input.title) return this.#invalid(record, res, "Issue", "title", "missing_field");
        const bad = this.#badAssignee(input.assignees);
        if (bad) return this.#invalid(record, res, "Issue", "assignees", "invalid");
        const i = this.#issue(input, "open", false);
        return this.#reply(record, res, 201, i, { location: i.url });
      }
    } else if ((match = /^\/issues\/(\d+)$/.exec(rest))) {
      const i = this.issues.get(Number(match[1]));
      if (!i) return this.#notFound(record, res);
      if (method === "GET") return this.#reply(record, res, 200, i);
      if (method === "PATCH") {
        if (input.state !== undefined && input.state !== "open" && input.state !== "closed") return this.#invalid(record, res, "Issue", "state", "invalid");
        if (typeof input.title === "string") i.title = input.title;
        if (typeof input.body === "string") i.body = input.body;
        if (input.state === "closed" || input.state === "open") {
          i.state = input.state;
          i.state_reason = input.state === "closed" ? (typeof input.state_reason === "string" ? input.state_reason : "completed") : "reopened";
        }
        i.updated_at = now();
        return this.#reply(record, res, 200, i);
      }
    } else if ((match = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const issue = Number(match[1]);
      if (method === "GET") return this.#listComments(record, res, url, issue);
      if (method === "POST") {
        if (typeof input.body !== "string") return this.#invalid(record, res, "IssueComment", "body", "missing_field");
        const c = this.#addComment(issue, input.body, this.#user);
        return this.#reply(record, res, 201, c, { location: c.url });
      }
    } else if ((match = /^\/issues\/comments\/(\d+)$/.exec(rest))) {
      const id = Number(match[1]);
      const c = [...this.comments.values()].flat().find((x) => x.id === id);
      if (!c) return this.#notFound(record, res);
      if (method === "GET") return this.#reply(record, res, 200, c);
      if (method === "PATCH") {
        if (typeof input.body !== "string") return this.#invalid(record, res, "IssueComment", "body", "missing_field");
        c.body = input.body;
        c.updated_at = now();
        return this.#reply(record, res, 200, c);
      }
    } else if ((match = /^\/pulls\/(\d+)$/.exec(rest)) && method === "GET") {
      const n = Number(match[1]);
      const p = this.pulls.get(n);
      if (!p) return this.#notFound(record, res);
      return this.#reply(record, res, 200, {
        number: n,
        state: "open",
        head: { sha: p.headSha, ref: "topic", repo: { full_name: p.headRepo } },
        base: { ref: "main", repo: { full_name: `${owner}/${repo}` } },
      });
    } else if (rest === "/deployments" && method === "POST") {
      if (typeof input.ref !== "string") return this.#invalid(record, res, "Deployment", "ref", "missing_field");
      const d = this.#deployment(input);
      return this.#reply(record, res, 201, d);
    } else if ((match = /^\/deployments\/(\d+)\/statuses$/.exec(rest)) && method === "POST") {
      const id = Number(match[1]);
      const d = this.deployments.find((x) => x.id === id);
      if (!d) return this.#notFound(record, res);
      if (typeof input.state !== "string" || !STATES.has(input.state)) {
        return this.#invalid(record, res, "DeploymentStatus", "state", "invalid");
      }
      if (typeof input.description === "string" && input.description.length > 140) {
        return this.#invalid(record, res, "DeploymentStatus", "description", "custom");
      }
      const s = this.#status(d, input);
      return this.#reply(record, res, 201, s);
    } else if (rest === "/releases" && method === "POST") {
      if (typeof input.tag_name !== "string") return this.#invalid(record, res, "Release", "tag_name", "missing_field");
      if (this.releases.some((r) => r.tag_name === input.tag_name)) {
        return this.#invalid(record, res, "Release", "tag_name", "already_exists");
      }
      const r = this.#release(input);
      return this.#reply(record, res, 201, publicRelease(r));
    } else if ((match = /^\/releases\/(\d+)\/assets$/.exec(rest)) && method === "POST") {
      const r = this.releases.find((x) => x.id === Number(match![1]));
      if (!r) return this.#notFound(record, res);
      const name = url.searchParams.get("name");
      if (!name) return this.#invalid(record, res, "ReleaseAsset", "name", "missing_field");
      if (r.assets.some((a) => a.name === name)) return this.#invalid(record, res, "ReleaseAsset", "name", "already_exists");
      const a = this.#asset(r, name, url.searchParams.get("label"), headers["content-type"] ?? "", raw);
      return this.#reply(record, res, 201, a);
    }
    return this.#notFound(record, res);
  }

  // ---- endpoints -----------------------------------------------------------------------------

  #listComments(record: RecordedRequest, res: ServerResponse, url: URL, issue: number): void {
    this.#page(record, res, url, this.comments.get(issue) ?? []);
  }

  /** One page of a list, with GitHub's Link header. */
  #page(record: RecordedRequest, res: ServerResponse, url: URL, all: unknown[]): void {
    const perPage = clamp(Number(url.searchParams.get("per_page") ?? 30) || 30, 1, 100);
    const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const items = all.slice((page - 1) * perPage, page * perPage);
    const link = (p: number, rel: string) => {
      const u = new URL(url.pathname, this.url);
      // as GitHub does, the links keep the request's own filters (state, sort, direction)
      for (const [k, v] of url.searchParams) u.searchParams.set(k, v);
      u.searchParams.set("per_page", String(perPage));
      u.searchParams.set("page", String(p));
      return `<${u.href}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, "prev"), link(1, "first"));
    if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
    this.#reply(record, res, 200, items, links.length ? { link: links.join(", ") } : {});
  }

  #addComment(issue: number, body: string, user: FakeUser): Comment {
    const id = this.#id();
    const { owner, repo } = this.options;
    const t = now();
    const c: Comment = {
      id,
      node_id: `IC_${id}`,
      url: `${this.url}/repos/${owner}/${repo}/issues/comments/${id}`,
      html_url: `https://github.com/${owner}/${repo}/pull/${issue}#issuecomment-${id}`,
      issue_url: `${this.url}/repos/${owner}/${repo}/issues/${issue}`,
      body,
      user: { ...user, node_id: `U_${user.id}`, url: `${this.url}/users/${user.login}`, html_url: `https://github.com/${user.login}` },
      created_at: t,
      updated_at: t,
      author_association: user.type === "Bot" ? "NONE" : "OWNER",
    };
    const list = this.comments.get(issue) ?? [];
    list.push(c);
    this.comments.set(issue, list);
    return c;
  }

  #badAssignee(assignees: unknown): boolean {
    if (assignees === undefined) return false;
    if (!Array.isArray(assignees)) return true;
    return assignees.some((a) => typeof a !== "string" || (this.collaborators.size > 0 && !this.collaborators.has(a)));
  }

  #issue(input: Record<string, unknown>, state: "open" | "closed", pullRequest: boolean): FakeIssue {
    const number = ++this.#nextIssue;
    const { owner, repo } = this.options;
    const t = now();
    const i: FakeIssue = {
      id: this.#id(),
      node_id: `I_${number}`,
      number,
      title: input.title as string,
      body: typeof input.body === "string" ? input.body : null,
      state,
      state_reason: null,
      labels: (Array.isArray(input.labels) ? input.labels : []).map((name) => ({ name: String(name) })),
      assignees: (Array.isArray(input.assignees) ? input.assignees : []).map((login) => ({ login: String(login) })),
      user: { login: this.#user.login, id: this.#user.id, type: this.#user.type },
      url: `${this.url}/repos/${owner}/${repo}/issues/${number}`,
      html_url: `https://github.com/${owner}/${repo}/${pullRequest ? "pull" : "issues"}/${number}`,
      comments: 0,
      created_at: t,
      updated_at: t,
      ...(pullRequest ? { pull_request: { url: `${this.url}/repos/${owner}/${repo}/pulls/${number}` } } : {}),
    };
    this.issues.set(number, i);
    return i;
  }

  #deployment(input: Record<string, unknown>): Deployment {
    const id = this.#id();
    const { owner, repo } = this.options;
    const environment = typeof input.environment === "string" ? input.environment : "production";
    const t = now();
    const d: Deployment = {
      url: `${this.url}/repos/${owner}/${repo}/deployments/${id}`,
      id,
      node_id: `DE_${id}`,
      sha: "a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d", // pragma: allowlist secret (a git sha)
      ref: input.ref,
      task: typeof input.task === "string" ? input.task : "deploy",
      payload: input.payload ?? {},
      original_environment: environment,
      environment,
      description: input.description ?? null,
      creator: { login: this.#user.login, id: this.#user.id, type: this.#user.type },
      created_at: t,
      updated_at: t,
      statuses_url: `${this.url}/repos/${owner}/${repo}/deployments/${id}/statuses`,
      repository_url: `${this.url}/repos/${owner}/${repo}`,
      transient_environment: input.transient_environment ?? false,
      production_environment: input.production_environment ?? environment === "production",
    };
    this.deployments.push(d);
    return d;
  }

  #status(d: Deployment, input: Record<string, unknown>): Record<string, unknown> {
    const id = this.#id();
    const t = now();
    const s = {
      url: `${d.url as string}/statuses/${id}`,
      id,
      node_id: `DES_${id}`,
      state: input.state,
      creator: { login: this.#user.login, id: this.#user.id, type: this.#user.type },
      description: input.description ?? "",
      environment: input.environment ?? d.environment,
      target_url: input.log_url ?? "",
      log_url: input.log_url ?? "",
      environment_url: input.environment_url ?? "",
      created_at: t,
      updated_at: t,
      deployment_url: d.url,
      repository_url: d.repository_url,
    };
    const list = this.deploymentStatuses.get(d.id) ?? [];
    list.push(s);
    this.deploymentStatuses.set(d.id, list);
    return s;
  }

  #release(input: Record<string, unknown>): Release {
    const id = this.#id();
    const { owner, repo } = this.options;
    const tag = input.tag_name as string;
    const t = now();
    const r: Release = {
      url: `${this.url}/repos/${owner}/${repo}/releases/${id}`,
      html_url: `https://github.com/${owner}/${repo}/releases/tag/${tag}`,
      assets_url: `${this.url}/repos/${owner}/${repo}/releases/${id}/assets`,
      // Real GitHub answers with https://uploads.github.com/...; the stand-in points back at itself.
      upload_url: `${this.url}/repos/${owner}/${repo}/releases/${id}/assets{?name,label}`,
      tarball_url: `${this.url}/repos/${owner}/${repo}/tarball/${tag}`,
      zipball_url: `${this.url}/repos/${owner}/${repo}/zipball/${tag}`,
      id,
      node_id: `RE_${id}`,
      tag_name: tag,
      target_commitish: typeof input.target_commitish === "string" ? input.target_commitish : "main",
      name: input.name ?? null,
      body: input.body ?? null,
      draft: input.draft ?? false,
      prerelease: input.prerelease ?? false,
      created_at: t,
      published_at: input.draft ? null : t,
      author: { login: this.#user.login, id: this.#user.id, type: this.#user.type },
      assets: [],
    };
    this.releases.push(r);
    return r;
  }

  #asset(r: Release, name: string, label: string | null, contentType: string, data: Buffer): Asset {
    const id = this.#id();
    const { owner, repo } = this.options;
    const t = now();
    const a: Asset = {
      url: `${this.url}/repos/${owner}/${repo}/releases/assets/${id}`,
      browser_download_url: `https://github.com/${owner}/${repo}/releases/download/${r.tag_name}/${name}`,
      id,
      node_id: `RA_${id}`,
      name,
      label,
      state: "uploaded",
      content_type: contentType,
      size: data.length,
      download_count: 0,
      created_at: t,
      updated_at: t,
      uploader: { login: this.#user.login, id: this.#user.id, type: this.#user.type },
    };
    r.assets.push(a);
    this.assetData.set(id, data);
    return a;
  }

  // ---- responses -----------------------------------------------------------------------------

  #invalid(record: RecordedRequest, res: ServerResponse, resource: string, field: string, code: string): void {
    this.#reply(record, res, 422, {
      message: "Validation Failed",
      errors: [{ resource, code, field }],
      documentation_url: DOCS,
      status: "422",
    });
  }

  #notFound(record: RecordedRequest, res: ServerResponse): void {
    this.#reply(record, res, 404, { message: "Not Found", documentation_url: DOCS, status: "404" });
  }

  #reply(record: RecordedRequest, res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    record.status = status;
    this.#send(res, status, body, headers);
  }

  #send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(text),
      "x-github-media-type": "github.v3; format=json",
      "x-github-request-id": `FAKE:${this.requests.length}`,
      ...headers,
    });
    res.end(text);
  }

  #id(): number {
    return ++this.#nextId;
  }
}

function publicRelease(r: Release): Record<string, unknown> {
  return { ...r };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Start a stand-in; stop it with `await fake.stop()`. */
export async function startFakeGitHub(options: FakeGitHubOptions): Promise<FakeGitHub> {
  return new FakeGitHub(options).start();
}
