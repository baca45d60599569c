import { createServer, type RequestListener, type Server } from "node:http";
import { UserError } from "../errors.js";

/** Listen, turning "port in use" and friends into one clear line. Port 0 picks a free port. */
export async function listen(handler: RequestListener, port: number, host: string): Promise<{ server: Server; port: number }> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EADDRINUSE") reject(new UserError(`port ${port} on ${host} is in use (is another huskies running? pick one with --port)`));
      else if (err.code === "EADDRNOTAVAIL") reject(new UserError(`cannot listen on ${host}: no such local address`));
      else if (err.code === "EACCES") reject(new UserError(`not allowed to listen on ${host}:${port}`));
      else reject(err);
    });
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === "object" && addr ? addr.port : port };
}
