/**
 * Float64 CPU references for `src/ops/adamw.ts`: the closed-form torch.optim.AdamW update and the global
 * L2 norm.
 * @module
 */

/** One parameter's float64 AdamW state. */
export interface AdamWRefState {
  p: Float64Array;
  m: Float64Array;
  v: Float64Array;
  t: number;
}

/** A fresh state for a parameter with initial values `p`. */
export function adamWRefInit(p: ArrayLike<number>): AdamWRefState {
  return { p: Float64Array.from(p), m: new Float64Array(p.length), v: new Float64Array(p.length), t: 0 };
}

/** One torch.optim.AdamW step in float64, in place (gradient already scaled). */
export function adamWRefStep(
  s: AdamWRefState,
  g: ArrayLike<number>,
  lr: number,
  wd: number,
  b1 = 0.9,
  b2 = 0.999,
  eps = 1e-8,
): void {
  s.t++;
  const bc1 = 1 - b1 ** s.t, bc2 = 1 - b2 ** s.t;
  for (let i = 0; i < s.p.length; i++) {
    s.p[i] *= 1 - lr * wd;
    s.m[i] = b1 * s.m[i] + (1 - b1) * g[i];
    s.v[i] = b2 * s.v[i] + (1 - b2) * g[i] * g[i];
    s.p[i] -= (lr / bc1) * s.m[i] / (Math.sqrt(s.v[i]) / Math.sqrt(bc2) + eps);
  }
}

/** L2 norm of all the arrays together, in float64. */
export function globalNormRef(arrays: ArrayLike<number>[]): number {
  let s = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}
