/** What the loop needs from a running job: who it is, whether it is still entitled, and how to stop it. */
export interface ActorRun {
  readonly storyId: string;
  readonly epoch: number;
  readonly pid: number | undefined;
  stillMine(): boolean;
  stop(reason: string): Promise<void>;
  work(): Promise<void>;
  /** Count an unexpected error as a failed attempt and give the claim back. */
  fail(reason: string): void;
  readonly stopped: boolean;
}
