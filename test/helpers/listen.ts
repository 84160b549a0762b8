import type { AddressInfo } from "node:net";
import type { Server } from "node:http";

/** Listen on a free loopback port; resolves with the port, rejects on a listen error. */
export async function listenOnLoopback(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
