/**
 * Float64 CPU reference for the GELU family: erf/erfc to ~1e-15, exact GELU and its derivative.
 * @module
 */

const _TWO_OVER_SQRT_PI = 1.1283791670955126;
const _INV_SQRT_2PI = 0.3989422804014327;

/**
 * erfc(x) for x >= 2.5 by the continued fraction erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))
 * evaluated bottom-up with enough terms for full double precision.
 */
function _erfcLarge(x: number): number {
  let f = x;
  for (let k = 300; k >= 1; k--) f = x + (k / 2) / f;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

/**
 * erf(x) in float64. For |x| < 4 the all-positive series erf(x) = 2/√π · e^{-x²} · Σ 2ⁿ x^{2n+1} / (1·3···(2n+1))
 * (no cancellation); beyond, 1 - erfc from a continued fraction.
 */
export function erf64(x: number): number {
  const a = Math.abs(x);
  if (a >= 4) return Math.sign(x) * (1 - _erfcLarge(a));
  let term = a, sum = a;
  const x2 = a * a;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.sign(x) * _TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

/** erfc(x) = 1 - erf(x) in float64, with full relative accuracy for large positive x. */
export function erfc64(x: number): number {
  if (x >= 2.5) return _erfcLarge(x);
  return 1 - erf64(x);
}

/** The standard normal CDF Φ(x) in float64 (relative accuracy kept in the lower tail). */
export function normCdf64(x: number): number {
  const z = x / Math.SQRT2;
  return z < 0 ? 0.5 * erfc64(-z) : 0.5 * (1 + erf64(z));
}

/** Exact GELU x·Φ(x) elementwise, float64. */
export function geluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => v * normCdf64(v));
}

/** GELU backward g·(Φ(x) + x·φ(x)) elementwise, float64. */
export function geluBackwardRef(x: ArrayLike<number>, g: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v, i) => g[i] * (normCdf64(v) + v * _INV_SQRT_2PI * Math.exp(-0.5 * v * v)));
}
