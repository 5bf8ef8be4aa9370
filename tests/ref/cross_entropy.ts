/**
 * Float64 CPU references for `src/ops/cross_entropy.ts`.
 * @module
 */

/** Mean softmax cross-entropy over rows of `logits` (n, l), skipping `ignore` labels; 0 when none count. */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  l: number,
  ignore = -100,
) {
  const n = labels.length;
  let sum = 0, count = 0;
  for (let r = 0; r < n; r++) {
    const y = labels[r];
    if (y === ignore) continue;
    count++;
    sum += logSumExp(logits, r * l, l) - logits[r * l + y];
  }
  return count ? sum / count : 0;
}

/** Gradient of {@link crossEntropyRef} times `g`: (softmax - onehot) · g / count on counted rows. */
export function crossEntropyGradRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  l: number,
  g = 1,
  ignore = -100,
): Float64Array {
  const n = labels.length;
  const out = new Float64Array(n * l);
  let count = 0;
  for (let r = 0; r < n; r++) if (labels[r] !== ignore) count++;
  for (let r = 0; r < n; r++) {
    const y = labels[r];
    if (y === ignore) continue;
    const lse = logSumExp(logits, r * l, l);
    for (let c = 0; c < l; c++) {
      out[r * l + c] = (Math.exp(logits[r * l + c] - lse) - (c === y ? 1 : 0)) * g / count;
    }
  }
  return out;
}

/** Row softmax of (n, l) in float64. */
export function softmaxRef(logits: ArrayLike<number>, l: number): Float64Array {
  const n = logits.length / l;
  const out = new Float64Array(logits.length);
  for (let r = 0; r < n; r++) {
    const lse = logSumExp(logits, r * l, l);
    for (let c = 0; c < l; c++) out[r * l + c] = Math.exp(logits[r * l + c] - lse);
  }
  return out;
}

/** Max-subtracted log-sum-exp of `l` values starting at `off`. */
export function logSumExp(x: ArrayLike<number>, off: number, l: number): number {
  let m = -Infinity;
  for (let c = 0; c < l; c++) m = Math.max(m, x[off + c]);
  let s = 0;
  for (let c = 0; c < l; c++) s += Math.exp(x[off + c] - m);
  return m + Math.log(s);
}
