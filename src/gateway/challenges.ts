import { randomBytes } from "node:crypto";

/**
 * Registration challenges: random, single-use, short-lived. At most `max` are kept; asking for
 * more drops the oldest, so a flood of requests costs bounded memory (and only delays itself).
 */
export class ChallengeStore {
  private readonly open = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
  ) {}

  issue(): string {
    this.prune();
    while (this.open.size >= this.max) this.open.delete(this.open.keys().next().value!);
    const challenge = randomBytes(32).toString("hex");
    this.open.set(challenge, this.now() + this.ttlMs);
    return challenge;
  }

  /** Use up `challenge`: true once, if it was issued here and has not expired. */
  take(challenge: string): boolean {
    const expires = this.open.get(challenge);
    if (expires === undefined) return false;
    this.open.delete(challenge);
    return expires >= this.now();
  }

  private prune(): void {
    const now = this.now();
    // Insertion order is expiry order (one TTL for all), so stop at the first live one.
    for (const [c, expires] of this.open) {
      if (expires >= now) break;
      this.open.delete(c);
    }
  }
}
