/**
 * Float64 CPU reference for dropout: the keep mask predicted on the host from the same counter-based RNG.
 * @module
 */
import { rngUniform } from "../../src/ops/rng.ts";

/** keep[i] = rngUniform(seed, i) >= fround(p), for i < n. */
export function dropoutKeepRef(n: number, p: number, seed: number): boolean[] {
  const pf = Math.fround(p);
  return Array.from({ length: n }, (_, i) => rngUniform(seed >>> 0, i) >= pf);
}

/** Inverted dropout in float64: keep ? x / (1 - p) : 0. */
export function dropoutRef(x: ArrayLike<number>, p: number, seed: number): Float64Array {
  const keep = dropoutKeepRef(x.length, p, seed);
  return Float64Array.from(x, (v, i) => keep[i] ? v / (1 - p) : 0);
}
