/**
 * Timing helpers shared by the benchmark scripts.
 * @module
 */
import { gpu } from "../src/engine/gpu.ts";

/** The median of `xs` (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Seconds per call of `fn` over `n` calls, after one warm-up call; waits for the GPU around the loop. */
export async function secondsPerCall(fn: () => void, n: number): Promise<number> {
  fn();
  await gpu().sync();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  await gpu().sync();
  return (performance.now() - t0) / n / 1000;
}
