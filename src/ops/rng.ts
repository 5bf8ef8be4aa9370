/**
 * The counter-based RNG of `kernels/rng.wgsl`, mirrored on the host so tests can predict dropout masks.
 * @module
 */
import rngSrc from "../../kernels/rng.wgsl" with { type: "text" };

/** WGSL source of `rng_hash` / `rng_uniform`, to prepend to kernels that draw random numbers. */
export const RNG_WGSL: string = rngSrc;

/** The 32-bit hash used by the GPU RNG (lowbias32). */
export function rngHash(x: number): number {
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** Uniform [0, 1) for element `idx` of stream `seed`, bit-identical to the WGSL `rng_uniform`. */
export function rngUniform(seed: number, idx: number): number {
  const h = rngHash((idx ^ rngHash(seed)) >>> 0);
  return (h >>> 8) / 16777216;
}
