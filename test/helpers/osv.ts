import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface OsvAdvisory {
  id: string;
  summary: string;
  aliases?: string[];
  fixed?: string;
}

/**
 * A local stand-in for the OSV API (`POST /v1/query`), on the loopback interface only, so the
 * integration tests run the real pip-audit against an advisory source whose answers they know.
 * `advisories` maps "name==version" to the advisories for it; anything else has none.
 */
export async function startOsv(advisories: Record<string, OsvAdvisory[]> = {}): Promise<{ url: string; queries: string[]; close: () => Promise<void> }> {
  const queries: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (req.method !== "POST" || req.url !== "/v1/query") {
        res.writeHead(404).end();
        return;
      }
      const q = JSON.parse(body) as { package: { name: string; ecosystem: string }; version: string };
      const key = `${q.package.name}==${q.version}`;
      queries.push(key);
      const vulns = (advisories[key] ?? []).map((a) => ({
        id: a.id,
        summary: a.summary,
        aliases: a.aliases ?? [],
        affected: [
          {
            package: { name: q.package.name, ecosystem: "PyPI" },
            ranges: [{ type: "ECOSYSTEM", events: [{ introduced: "0" }, ...(a.fixed ? [{ fixed: a.fixed }] : [])] }],
          },
        ],
      }));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(vulns.length ? { vulns } : {}));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/v1/query`, queries, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A loopback URL nothing listens on: a port the OS handed out, then released. */
export async function closedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/v1/query`;
}
