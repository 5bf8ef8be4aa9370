/**
 * Test helpers shared by the kernel tests: a seeded RNG, closeness assertions with atol/rtol, and central
 * finite differences over float64 CPU references.
 * @module
 */
import { initGpu } from "../src/engine/gpu.ts";

/** Initialises the GPU once for a test file. */
export async function setupGpu(): Promise<void> {
  await initGpu();
}

/** A seeded uniform [0, 1) generator (mulberry32). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` normal(0, std) values as f32, reproducible from `seed`. */
export function randn(n: number, seed: number, std = 1): Float32Array {
  const u = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r = Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
    out[i] = r * std;
  }
  return out;
}

/** `n` uniform values in [lo, hi) as f32. */
export function randu(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const u = rng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * u());
}

/** Tolerances for {@link assertClose}: passes when |a-b| <= atol + rtol*|ref| everywhere. */
export interface Tol {
  atol: number;
  rtol: number;
}

/** Asserts elementwise closeness; the error names the worst index and both values. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: Tol,
  what = "values",
): void {
  if (actual.length !== expected.length) {
    throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    const excess = Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
      if (Number.isNaN(excess)) break;
    }
  }
  if (worst >= 0) {
    throw new Error(
      `${what}: mismatch at index ${worst}: got ${actual[worst]}, expected ${expected[worst]} ` +
        `(atol ${tol.atol}, rtol ${tol.rtol})`,
    );
  }
}

/**
 * Central finite differences of a scalar float64 function with respect to input `which`:
 * d f / d x_i ≈ (f(x + h e_i) - f(x - h e_i)) / 2h, for every i (or the indices given).
 */
export function finiteDiff(
  f: (inputs: Float64Array[]) => number,
  inputs: Float64Array[],
  which: number,
  h = 1e-5,
  indices?: number[],
): Float64Array {
  const x = inputs[which];
  const out = new Float64Array(x.length);
  for (const i of indices ?? x.keys()) {
    const old = x[i];
    x[i] = old + h;
    const fp = f(inputs);
    x[i] = old - h;
    const fm = f(inputs);
    x[i] = old;
    out[i] = (fp - fm) / (2 * h);
  }
  return out;
}

/** Dot product, for the scalar loss sum(out * R) used by gradient checks. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Float64 copy of any numeric array. */
export function f64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a);
}
