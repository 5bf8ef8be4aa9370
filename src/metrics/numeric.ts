/**
 * Number formatting and summation that reproduce Python/NumPy/C results bit for bit, so reports agree with
 * seqeval and conlleval.pl to the last printed digit.
 * @module
 */

/**
 * Formats `x` with `digits` decimals the way Python's `format(x, ".Nf")`, C's `printf("%.Nf")` and Perl's
 * `printf` do: correctly rounded from the exact binary value, with exact ties rounded half to even.
 * (`Number.prototype.toFixed` rounds exact ties upwards, e.g. `0.125.toFixed(2) === "0.13"` where Python
 * prints `0.12`.) NaN and infinities print as Python does: `nan`, `inf`, `-inf`.
 */
export function formatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (!Number.isInteger(digits) || digits < 0 || digits > 60) {
    throw new RangeError(`formatFixed: digits must be an integer in 0..60, got ${digits}`);
  }
  if (Math.abs(x) >= 1e21) return _bigFixed(x, digits);
  const rounded = x.toFixed(digits);
  // A tie at `digits` decimals is a dyadic rational whose exact expansion ends in a 5 right after them;
  // any non-tie differs from such a value within far fewer than 30 further digits.
  const exact = x.toFixed(digits + 30);
  const tail = exact.slice(exact.length - 30);
  if (tail !== "5" + "0".repeat(29)) return _fixNegativeZero(rounded, x);
  let truncated = exact.slice(0, exact.length - 30);
  if (truncated.endsWith(".")) truncated = truncated.slice(0, -1);
  const lastDigit = truncated.charCodeAt(truncated.length - 1) - 48;
  return _fixNegativeZero(lastDigit % 2 === 0 ? truncated : rounded, x);
}

/** Python keeps the sign of a negative number that rounds to zero ("-0.00"); toFixed drops it. */
function _fixNegativeZero(s: string, x: number): string {
  if ((x < 0 || Object.is(x, -0)) && !s.startsWith("-")) return "-" + s;
  return s;
}

/** Fixed notation for |x| >= 1e21, where toFixed switches to exponent form; such doubles are integers. */
function _bigFixed(x: number, digits: number): string {
  const s = BigInt(x).toString();
  return digits > 0 ? `${s}.${"0".repeat(digits)}` : s;
}

/**
 * Sums `values` in the same order as NumPy's `np.add.reduce` on a contiguous float64 array (pairwise
 * summation with 8 accumulators and a block size of 128), so means and weighted averages round exactly
 * as `np.average` does.
 */
export function numpySum(values: ArrayLike<number>): number {
  return 0 + _pairwiseSum(values, 0, values.length);
}

function _pairwiseSum(a: ArrayLike<number>, start: number, n: number): number {
  if (n < 8) {
    let res = -0;
    for (let i = 0; i < n; i++) res += a[start + i];
    return res;
  }
  if (n <= 128) {
    const r = new Float64Array(8);
    for (let j = 0; j < 8; j++) r[j] = a[start + j];
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) r[j] += a[start + i + j];
    }
    let res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[start + i];
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return _pairwiseSum(a, start, n2) + _pairwiseSum(a, start + n2, n - n2);
}

/**
 * `np.average(values)` or, with `weights`, `np.average(values, weights=weights)`: the pairwise sum of the
 * products divided by the pairwise sum of the weights. An empty input gives NaN, as NumPy does.
 */
export function numpyAverage(values: ArrayLike<number>, weights?: ArrayLike<number>): number {
  if (weights === undefined) return numpySum(values) / values.length;
  if (weights.length !== values.length) {
    throw new RangeError(`numpyAverage: ${values.length} values but ${weights.length} weights`);
  }
  const products = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) products[i] = values[i] * weights[i];
  return numpySum(products) / numpySum(weights);
}

/** Compares strings by Unicode code point, the order of Python's `sorted()` on `str`. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // Surrogates encode code points above U+FFFF, which sort after every other BMP character.
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
