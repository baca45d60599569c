import pino, { type Logger } from "pino";

/**
 * One logger per process, a child per component. Human-readable on a terminal, JSON when
 * `HUSKIES_LOG_FORMAT=json` (or `--log-format json`) or when stderr is not a TTY, so logs of
 * agents started by tests and CI stay machine-readable.
 */
let root: Logger | undefined;

export function configureLogging(opts: { format?: "json" | "pretty"; level?: string } = {}): Logger {
  const format =
    opts.format ?? (process.env.HUSKIES_LOG_FORMAT as "json" | "pretty" | undefined) ?? (process.stderr.isTTY ? "pretty" : "json");
  const level = opts.level ?? process.env.HUSKIES_LOG_LEVEL ?? "info";
  root =
    format === "pretty"
      ? pino({ level, transport: { target: "pino-pretty", options: { destination: 2, ignore: "pid,hostname" } } })
      : pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
  return root;
}

export function logger(component: string): Logger {
  if (!root) configureLogging();
  return root!.child({ component });
}
