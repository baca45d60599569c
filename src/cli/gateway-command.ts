import { z } from "zod";
import { loadTomlFile } from "../config/project-config.js";
import { startGateway } from "../gateway/gateway.js";
import { logger } from "../log.js";

const projectsSchema = z.strictObject({
  project: z.array(z.strictObject({ name: z.string().min(1), url: z.string().regex(/^https?:\/\//, "must be an http(s) URL") })).default([]),
});

export async function runGatewayCommand(o: { port: number; host: string; config?: string; db: string }): Promise<void> {
  const projects = o.config ? loadTomlFile(o.config, projectsSchema).project : [];
  const gw = await startGateway({ port: o.port, host: o.host, dbFile: o.db, projects });
  console.log(`huskies gateway on http://${o.host}:${gw.port}`);
  const stop = () => void gw.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  logger("gateway").debug({ projects: projects.length }, "gateway ready");
}
