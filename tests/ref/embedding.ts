/**
 * Float64 CPU reference for the embedding gather and its scatter-add backward (nn.Embedding semantics).
 * @module
 */

/** out[n, c] = W[ids[n], c] (0 for ids outside [0, V)). */
export function embeddingRef(
  ids: ArrayLike<number>,
  w: ArrayLike<number>,
  V: number,
  C: number,
): Float64Array {
  const out = new Float64Array(ids.length * C);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (id < 0 || id >= V) continue;
    for (let c = 0; c < C; c++) out[n * C + c] = w[id * C + c];
  }
  return out;
}

/** dW[v, c] = Σ_{n: ids[n] = v} g[n, c], except the padding row (and out-of-range ids), which get nothing. */
export function embeddingBackwardRef(
  ids: ArrayLike<number>,
  g: ArrayLike<number>,
  V: number,
  C: number,
  pad: number | null,
): Float64Array {
  const dw = new Float64Array(V * C);
  for (let n = 0; n < ids.length; n++) {
    const id = ids[n];
    if (id < 0 || id >= V || id === pad) continue;
    for (let c = 0; c < C; c++) dw[id * C + c] += g[n * C + c];
  }
  return dw;
}
