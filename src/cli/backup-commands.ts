import type { Command } from "commander";
import { findProjectRoot } from "../config/project-root.js";
import { UserError } from "../errors.js";
import type { Recovery } from "../backup/recover-rendezvous.js";
import type { ReplicaSummary } from "../backup/replica-summary.js";

/** `huskies backup FILE [DIR]` and `huskies restore FILE [DIR]` (behaviour in src/backup). */
export function registerBackupCommands(program: Command): void {
  program
    .command("backup")
    .argument("<file>", "the backup file to write (mode 600; it holds the node's private key)")
    .argument("[dir]", "project directory", ".")
    .description("a consistent copy of this checkout's node, running or not: replica, node key, trust files, configuration")
    .option("--json", "print JSON")
    .action(async (file: string, dir: string, o: { json?: boolean }) => {
      const root = findProjectRoot(dir);
      if (!root) throw new UserError(`backup needs a project: no .huskies/ found in ${dir} or above`);
      const { takeBackup } = await import("../backup/take-backup.js");
      const r = await takeBackup(root, file);
      if (o.json) return console.log(JSON.stringify(r));
      console.log(
        `backed up node ${r.nodeId.slice(0, 12)} (${r.role}, ${r.items} stories) to ${r.file}: ${Math.ceil(r.bytes / 1024)} KB, ${r.files.join(", ")} and the replica`,
      );
      process.stderr.write(`the backup holds the node's private key: keep it where only you can read it\n`);
    });

  program
    .command("restore")
    .argument("<file>", "a file written by `huskies backup`")
    .argument("[dir]", "the checkout to restore into (its .huskies must hold no node state)", ".")
    .description("put a backup back into an empty .huskies: the same node key, replica, trust files")
    .option("--json", "print JSON")
    .action(async (file: string, dir: string, o: { json?: boolean }) => {
      const { restoreBackup } = await import("../backup/restore-backup.js");
      const { describeStages } = await import("../backup/replica-summary.js");
      const r = restoreBackup(file, dir);
      if (o.json)
        return console.log(JSON.stringify({ dir: r.dir, nodeId: r.meta.nodeId, role: r.meta.role, items: r.items, kept: r.kept }));
      console.log(
        `restored node ${r.meta.nodeId.slice(0, 12)} (${r.meta.role}) into ${r.dir} from a backup of ${new Date(r.meta.createdAt).toISOString()}: ${r.items} stories (${describeStages(r.byStage)})`,
      );
      for (const name of r.kept) process.stderr.write(`kept the checkout's ${name} (the backup's copy differs)\n`);
    });
}

/** `huskies operator-key FILE`: a key a person keeps (offline) to vouch for a recovered rendezvous. */
export function registerOperatorKeyCommand(program: Command): void {
  program
    .command("operator-key")
    .argument("<file>", "the private key file (created with mode 600 if missing; keep it off the project's machines)")
    .description("create or show an operator key: its public half goes in operator_keys of .huskies/project.toml")
    .action(async (file: string) => {
      const { existsSync } = await import("node:fs");
      const { loadIdentity, loadOrCreateIdentity } = await import("../trust/identity.js");
      const existed = existsSync(file);
      let id: string;
      try {
        id = (existed ? loadIdentity(file) : loadOrCreateIdentity(file)).nodeId;
      } catch (err) {
        throw new UserError(`${file}: not an Ed25519 private key (${(err as Error).message})`);
      }
      console.log(id);
      process.stderr.write(
        `${existed ? "operator key" : "created operator key"} ${file}: add "${id}" to operator_keys in .huskies/project.toml (committed), and keep the file where only you can read it\n`,
      );
    });
}

/** What `serve --from-replica` tells the operator before the new rendezvous starts. */
export function describeRecovery(r: Recovery): string[] {
  const stages = Object.entries(r.byStage as ReplicaSummary["byStage"]).map(([s, n]) => `${n} ${s}`);
  return [
    `recovered ${r.items} stories (${stages.join(", ") || "none"}) from the replica of agent ${r.agentNodeId?.slice(0, 12) ?? "?"} (${r.from})`,
    "stories the lost rendezvous acknowledged but no agent had received are not in it and cannot come back",
    `new rendezvous key ${r.nodeId}${r.lostKey ? ` (the lost one was ${r.lostKey.slice(0, 12)})` : ""}: carried over ${r.revocations} revocation(s) and ${r.directives} operator directive(s), released ${r.released.length} claim(s) the lost rendezvous' slots held`,
    r.operator
      ? `handover signed by operator key ${r.operator.slice(0, 12)}: agents whose operator_keys list it follow this rendezvous on their own (${r.nodes} node(s) of the project keep their admission); any other agent stops and needs \`huskies agent --join JOIN\` with a join string from \`huskies token create\``
      : "agents pinned to the lost key refuse this one: give each a join string from `huskies token create` and run `huskies agent --join JOIN` in its checkout (with --operator-key, agents that list that key follow on their own)",
  ];
}
