/**
 * Float64 CPU reference for LayerNorm over the last dimension (biased variance, eps inside the sqrt).
 * @module
 */

/** LayerNorm forward of x viewed as (rows, C); returns y (rows·C). */
export function layerNormRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  C: number,
  eps: number,
): Float64Array {
  const rows = x.length / C;
  const y = new Float64Array(x.length);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[r * C + c];
    const mean = s / C;
    let q = 0;
    for (let c = 0; c < C; c++) q += (x[r * C + c] - mean) ** 2;
    const rstd = 1 / Math.sqrt(q / C + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = (x[r * C + c] - mean) * rstd * w[c] + b[c];
  }
  return y;
}

/** Analytic LayerNorm backward in float64: returns dx (rows·C), dweight (C), dbias (C). */
export function layerNormBackwardRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  g: ArrayLike<number>,
  C: number,
  eps: number,
): { dx: Float64Array; dw: Float64Array; db: Float64Array } {
  const rows = x.length / C;
  const dx = new Float64Array(x.length), dw = new Float64Array(C), db = new Float64Array(C);
  const xhat = new Float64Array(C);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[r * C + c];
    const mean = s / C;
    let q = 0;
    for (let c = 0; c < C; c++) q += (x[r * C + c] - mean) ** 2;
    const rstd = 1 / Math.sqrt(q / C + eps);
    let a = 0, bsum = 0;
    for (let c = 0; c < C; c++) {
      const i = r * C + c;
      xhat[c] = (x[i] - mean) * rstd;
      a += g[i] * w[c];
      bsum += g[i] * w[c] * xhat[c];
      dw[c] += g[i] * xhat[c];
      db[c] += g[i];
    }
    a /= C;
    bsum /= C;
    for (let c = 0; c < C; c++) dx[r * C + c] = rstd * (g[r * C + c] * w[c] - a - xhat[c] * bsum);
  }
  return { dx, dw, db };
}
