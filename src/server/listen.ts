import { createServer, type RequestListener, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { UserError } from "../errors.js";
import type { TlsMaterial } from "./tls-files.js";

/** An HTTP or HTTPS server: both emit `request` and `upgrade`, so `/crdt-sync` works on either. */
export type AnyServer = Server | HttpsServer;

/**
 * Listen, turning "port in use" and friends into one clear line. Port 0 picks a free port. With
 * `tls` the server speaks https (and so wss for upgrades) on the same port, with Node's own TLS.
 */
export async function listen(
  handler: RequestListener,
  port: number,
  host: string,
  tls?: TlsMaterial,
): Promise<{ server: AnyServer; port: number }> {
  const server: AnyServer = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE")
        reject(new UserError(`port ${port} on ${host} is in use (is another huskies running? pick one with --port)`));
      else if (err.code === "EADDRNOTAVAIL") reject(new UserError(`cannot listen on ${host}: no such local address`));
      else if (err.code === "EACCES") reject(new UserError(`not allowed to listen on ${host}:${port}`));
      else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : port };
}
