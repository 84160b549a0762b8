/**
 * A local stand-in for chat webhooks (Slack incoming webhooks, Discord webhooks, a generic JSON
 * endpoint): it records every request exactly and answers each path from a script, in order,
 * repeating the last answer. An answer can also be to hang (accept and never respond), to see a
 * timeout, or to redirect. Error answers echo the request path, as some services do, so tests can
 * check that the path (the secret part of a webhook URL) is scrubbed from every cause.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { listenOnLoopback } from "./listen.js";

export interface HookRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** The raw body. */
  text: string;
  body: unknown;
}

export type HookAnswer = { status: number; headers?: Record<string, string>; body?: string } | { hang: true };

export class WebhookStandIn {
  readonly requests: HookRequest[] = [];
  readonly #script = new Map<string, HookAnswer[]>();
  readonly #hanging: ServerResponse[] = [];
  #server: Server | undefined;
  #port = 0;

  get origin(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** Answer requests to `path` with these, in order; the last one repeats. Default: 200 "ok". */
  script(path: string, ...answers: HookAnswer[]): void {
    this.#script.set(path, answers);
  }

  to(path: string): HookRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => void this.#handle(req, res));
    this.#port = await listenOnLoopback(server);
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    for (const r of this.#hanging) r.destroy();
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(", ") : v;
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const path = (req.url ?? "/").split("?")[0]!;
    const seen = this.to(path).length;
    this.requests.push({ method: req.method ?? "", path, headers, text, body });
    const script = this.#script.get(path) ?? [{ status: 200, body: "ok" }];
    const answer = script[Math.min(seen, script.length - 1)]!;
    if ("hang" in answer) {
      this.#hanging.push(res);
      return;
    }
    const out = answer.body ?? (answer.status >= 400 ? `error for ${path}: try again` : "ok");
    res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
    res.end(out);
  }
}

export async function startWebhookStandIn(): Promise<WebhookStandIn> {
  return new WebhookStandIn().start();
}
