import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isGone, killTree, processStartTime } from "../runtime/process-tree.js";

interface PidRecord {
  pid: number;
  startTime: string;
}

/**
 * Pids of running coders, on disk, so a node restarted after a crash can kill the coders its
 * previous life left behind. The start time guards against killing a stranger that reused a pid.
 */
export class PidRecords {
  private records: Record<string, PidRecord> = {};

  constructor(private readonly file: string) {
    try {
      if (existsSync(file)) this.records = JSON.parse(readFileSync(file, "utf8")) as Record<string, PidRecord>;
    } catch {
      this.records = {};
    }
  }

  set(storyId: string, pid: number | undefined): void {
    if (pid === undefined || pid <= 0) delete this.records[storyId];
    else this.records[storyId] = { pid, startTime: processStartTime(pid) ?? "" };
    writeFileSync(this.file, JSON.stringify(this.records));
  }

  /** Kill every recorded process that is still the same process; returns the story ids. */
  async killOrphans(): Promise<string[]> {
    const killed: string[] = [];
    for (const [story, rec] of Object.entries(this.records)) {
      if (!isGone(rec.pid) && processStartTime(rec.pid) === rec.startTime) {
        await killTree(rec.pid);
        killed.push(story);
      }
    }
    this.records = {};
    writeFileSync(this.file, "{}");
    return killed;
  }
}
