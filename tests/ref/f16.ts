/**
 * CPU reference of the fp16 cast: float32 (or float64) values rounded to the nearest IEEE binary16 value,
 * ties to even, as `torch.tensor(x).half()` does — ±Inf from ±65520 up (65504 is the largest finite
 * value), subnormals below 2⁻¹⁴ in steps of 2⁻²⁴, NaN and ±Inf unchanged. Exact: the arithmetic is on
 * float64 scaled by powers of two.
 * @module
 */

/** `x` rounded to the nearest fp16 value (ties to even), returned as a number. */
export function roundF16(x: number): number {
  if (Number.isNaN(x) || !Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  let q = 2 ** -24; // spacing of fp16 values at |x|: 2^(e−10) for normals, 2^−24 for subnormals
  if (a >= 2 ** -14) {
    let e = Math.floor(Math.log2(a));
    if (2 ** e > a) e--;
    else if (2 ** (e + 1) <= a) e++;
    q = 2 ** (e - 10);
  }
  const r = a / q; // exact: q is a power of two
  let n = Math.floor(r);
  const frac = r - n;
  if (frac > 0.5 || (frac === 0.5 && n % 2 === 1)) n++;
  const v = n * q;
  if (v > 65504) return x < 0 ? -Infinity : Infinity;
  return x < 0 ? -v : v;
}

/** Every element of `x` rounded with {@link roundF16}. */
export function roundF16Array(x: ArrayLike<number>): Float32Array {
  return Float32Array.from(x, roundF16);
}
