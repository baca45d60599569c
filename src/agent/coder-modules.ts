/**
 * What only a running job needs: the runtimes (execa and its dependencies) and the gates. An idle
 * agent never loads them (issue 15.5: several MB of its memory); the first request for work
 * starts loading them in the background, so they are ready by the time a claim is granted.
 */
let runtimes: Promise<typeof import("../runtime/runtimes.js")> | undefined;
let gates: Promise<typeof import("../git/gates.js")> | undefined;

export function loadRuntimes(): Promise<typeof import("../runtime/runtimes.js")> {
  return (runtimes ??= import("../runtime/runtimes.js"));
}

export function loadGates(): Promise<typeof import("../git/gates.js")> {
  return (gates ??= import("../git/gates.js"));
}

/** Start loading both now; errors surface later, where a job awaits them. */
export function warmCoderModules(): void {
  loadRuntimes().catch(() => undefined);
  loadGates().catch(() => undefined);
}
