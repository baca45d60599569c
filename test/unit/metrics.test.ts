import { describe, expect, it } from "vitest";
import { PipelineDoc } from "../../src/state/pipeline-doc.js";
import { Claims } from "../../src/state/claims.js";
import { Metrics, metricsRoute } from "../../src/server/metrics.js";
import { parseProm, sampleValue as value } from "../support/prometheus.js";

describe("/metrics", () => {
  it("parses as Prometheus text and counts the stories per stage, computed at scrape", async () => {
    const pipeline = new PipelineDoc();
    const add = (stage: "backlog" | "current" | "qa" | "merge" | "done", n: number) =>
      Array.from({ length: n }, (_, i) => pipeline.createItem({ name: `${stage} ${i}`, stage }));
    add("backlog", 3);
    const [blocked] = add("current", 2);
    add("qa", 1);
    add("done", 4);
    pipeline.update(blocked!.id, { blocked: "gates failed" });
    const metrics = new Metrics({
      stories: () => pipeline.listItems(),
      replicaBytes: () => 1234,
      syncLinks: () => ({ inbound: 2, upstream: 1 }),
    });
    const app = metricsRoute(metrics);

    const res = await app.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const { samples, types } = parseProm(await res.text());
    expect(types.get("huskies_stories")).toBe("gauge");
    expect(Object.fromEntries(samples.filter((s) => s.name === "huskies_stories").map((s) => [s.labels.stage, s.value]))).toEqual({
      backlog: 3,
      current: 2,
      qa: 1,
      merge: 0,
      done: 4,
      archived: 0,
    });
    expect(value(samples, "huskies_stories_blocked", { stage: "current" })).toBe(1);
    expect(value(samples, "huskies_replica_bytes")).toBe(1234);
    expect(value(samples, "huskies_sync_links", { kind: "inbound" })).toBe(2);
    // Process metrics come along, from this registry.
    expect(types.has("process_cpu_user_seconds_total")).toBe(true);

    // A move shows at the next scrape.
    new Claims(pipeline).move(add("qa", 1)[0]!.id, "merge", { actor: "system", commitsAhead: 1 });
    const again = parseProm(await (await app.request("/metrics")).text()).samples;
    expect(value(again, "huskies_stories", { stage: "qa" })).toBe(1);
    expect(value(again, "huskies_stories", { stage: "merge" })).toBe(1);
  });

  it("counts claims, runs by outcome, cost and turns, and the claim-to-start histogram", async () => {
    const metrics = new Metrics({
      stories: () => [],
      processMetrics: false,
      nodes: () => [
        { id: "a", alive: true, lastSeen: Date.now() },
        { id: "b", alive: true, lastSeen: Date.now(), paused: { reason: "limit", since: 0, until: null } },
        { id: "c", alive: false, lastSeen: 0 },
      ],
    });
    metrics.claimGranted();
    metrics.claimGranted();
    metrics.claimToStart(12);
    metrics.claimToStart(3000);
    metrics.claimToStart(Number.NaN);
    metrics.runFinished({ outcome: "done", costUsd: 0.04, turns: 8 });
    metrics.runFinished({ outcome: "story_failure", costUsd: 0.01, turns: 2 });
    metrics.runFinished({ outcome: "node_failure" });
    const { samples, types } = parseProm(await metrics.text());
    expect(value(samples, "huskies_claims_granted_total")).toBe(2);
    expect(types.get("huskies_claim_to_start_seconds")).toBe("histogram");
    expect(value(samples, "huskies_claim_to_start_seconds_count")).toBe(2);
    expect(value(samples, "huskies_claim_to_start_seconds_bucket", { le: "0.025" })).toBe(1);
    expect(value(samples, "huskies_claim_to_start_seconds_bucket", { le: "+Inf" })).toBe(2);
    expect(value(samples, "huskies_runs_total", { outcome: "done" })).toBe(1);
    expect(value(samples, "huskies_runs_total", { outcome: "node_failure" })).toBe(1);
    expect(value(samples, "huskies_run_cost_usd_total")).toBeCloseTo(0.05);
    expect(value(samples, "huskies_run_turns_total")).toBe(10);
    expect(Object.fromEntries(samples.filter((s) => s.name === "huskies_nodes").map((s) => [s.labels.state, s.value]))).toEqual({
      live: 1,
      paused: 1,
      offline: 1,
    });
    expect(types.has("process_cpu_user_seconds_total")).toBe(false);
  });

  it("keeps each node's counters apart (own registry, not the global one)", async () => {
    const a = new Metrics({ stories: () => [], processMetrics: false });
    const b = new Metrics({ stories: () => [], processMetrics: false });
    a.claimGranted(5);
    expect(value(parseProm(await b.text()).samples, "huskies_claims_granted_total")).toBe(0);
  });
});
