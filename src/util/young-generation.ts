import v8 from "node:v8";

/**
 * Keep V8's young generation at its initial size (1 MB semi-spaces) from now on. V8 grows it up to
 * 16 MB semi-spaces under allocation bursts (replica load, sync) and keeps that memory resident;
 * an idle agent allocates little, so it pays with RSS (~25 MB measured) for nothing.
 * `--max-semi-space-size` is read only at isolate creation (set at run time it changes nothing,
 * measured), while the growth factor is read at each resize, so it works from inside the process
 * without re-executing it with node flags. Called once a long-running node has loaded its replica,
 * so the load itself keeps the fast, large young generation.
 */
export function keepYoungGenerationSmall(): void {
  v8.setFlagsFromString("--semi-space-growth-factor=1");
}
