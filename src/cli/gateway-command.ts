import { z } from "zod";
import { loadTomlFile } from "../config/project-config.js";
import { startGateway } from "../gateway/gateway.js";
import { resolveTls } from "../server/tls-files.js";
import { UserError } from "../errors.js";
import { logger } from "../log.js";
import { normalizeFingerprint } from "../trust/tls-pin.js";

const projectsSchema = z.strictObject({
  project: z
    .array(
      z
        .strictObject({
          name: z.string().min(1),
          url: z.string().regex(/^https?:\/\//, "must be an http(s) URL"),
          /** Name of the environment variable holding that project's admin token (its REST reads need it). */
          admin_token_env: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name")
            .optional(),
          /** SHA-256 of the project server's certificate when it is self-signed (`openssl x509 -noout -fingerprint -sha256`). */
          fingerprint: z
            .string()
            .transform(normalizeFingerprint)
            .pipe(z.string().regex(/^[0-9a-f]{64}$/, "must be a SHA-256 fingerprint (64 hex digits, colons allowed)"))
            .optional(),
        })
        .refine((p) => !p.fingerprint || p.url.startsWith("https://"), {
          message: "a fingerprint needs an https:// url",
          path: ["fingerprint"],
        }),
    )
    .default([])
    .refine((list) => new Set(list.map((p) => p.name)).size === list.length, "project names must be unique"),
});

export async function runGatewayCommand(o: {
  port: number;
  host: string;
  config?: string;
  db: string;
  tlsCert?: string;
  tlsKey?: string;
}): Promise<void> {
  const projects = (o.config ? loadTomlFile(o.config, projectsSchema).project : []).map((p) => {
    const adminToken = p.admin_token_env ? process.env[p.admin_token_env] : undefined;
    if (p.admin_token_env && !adminToken)
      throw new UserError(`invalid config ${o.config}: project ${p.name}: environment variable ${p.admin_token_env} is not set`);
    return { name: p.name, url: p.url, adminToken, fingerprint: p.fingerprint };
  });
  const tls = resolveTls(o, process.cwd());
  const gw = await startGateway({ port: o.port, host: o.host, dbFile: o.db, projects, tls });
  console.log(`huskies gateway on ${tls ? "https" : "http"}://${o.host}:${gw.port}`);
  const stop = () => void gw.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  logger("gateway").debug({ projects: projects.length }, "gateway ready");
}
