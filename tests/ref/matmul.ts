/**
 * Float64 CPU reference of the matmul family: batched op(A)·op(B) (+ bias) in any layout, and nn.Linear.
 * @module
 */

/** Layout and batch description of a reference product; see {@link refMatmul}. */
export interface RefMatmulSpec {
  /** Rows of op(A) and of the result. */
  M: number;
  /** Columns of op(B) and of the result. */
  N: number;
  /** Inner dimension. */
  K: number;
  /** Batch entries (default 1). */
  batch?: number;
  /** A is stored (K, M) per batch entry. */
  transA?: boolean;
  /** B is stored (N, K) per batch entry. */
  transB?: boolean;
  /** B is one matrix shared by every batch entry. */
  sharedB?: boolean;
}

/**
 * C[b] = op(A[b]) · op(B[b]) + bias, in float64: A is (batch, M, K) or (batch, K, M) with transA, B is
 * (batch, K, N) or (batch, N, K) with transB (one matrix when sharedB), bias (N) or none; C (batch, M, N).
 */
export function refMatmul(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  s: RefMatmulSpec,
  bias?: ArrayLike<number> | null,
): Float64Array {
  const { M, N, K } = s;
  const batch = s.batch ?? 1;
  const out = new Float64Array(batch * M * N);
  for (let z = 0; z < batch; z++) {
    const oa = z * M * K, ob = s.sharedB ? 0 : z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = bias ? bias[n] : 0;
        for (let k = 0; k < K; k++) {
          const av = s.transA ? a[oa + k * M + m] : a[oa + m * K + k];
          const bv = s.transB ? b[ob + n * K + k] : b[ob + k * N + n];
          acc += av * bv;
        }
        out[z * M * N + m * N + n] = acc;
      }
    }
  }
  return out;
}

/** nn.Linear in float64: x (rows, in), w (out, in), bias (out) or none → (rows, out). */
export function refLinear(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  rows: number,
  inF: number,
  outF: number,
  bias?: ArrayLike<number> | null,
): Float64Array {
  return refMatmul(x, w, { M: rows, N: outF, K: inF, transB: true }, bias);
}

/** Gradients of loss = Σ C·R for {@link refMatmul}, and the magnitudes Σ|terms| that bound their error. */
export interface RefMatmulGrads {
  /** d loss / d A, in A's stored layout. */
  da: Float64Array;
  /** d loss / d B, in B's stored layout (summed over the batch when B is shared). */
  db: Float64Array;
  /** d loss / d bias (N). */
  dbias: Float64Array;
  /** Σ of |terms| of each element of da / db / dbias (for floating-point error bounds). */
  daAbs: Float64Array;
  dbAbs: Float64Array;
  dbiasAbs: Float64Array;
}

/**
 * Gradients of Σ C·R with C = {@link refMatmul}(a, b, s, bias), by direct index bookkeeping over every
 * (batch, m, n, k) term — independent of any layout algebra.
 */
export function refMatmulGrads(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  r: ArrayLike<number>,
  s: RefMatmulSpec,
): RefMatmulGrads {
  const { M, N, K } = s;
  const batch = s.batch ?? 1;
  const nb = s.sharedB ? K * N : batch * K * N;
  const g: RefMatmulGrads = {
    da: new Float64Array(batch * M * K),
    db: new Float64Array(nb),
    dbias: new Float64Array(N),
    daAbs: new Float64Array(batch * M * K),
    dbAbs: new Float64Array(nb),
    dbiasAbs: new Float64Array(N),
  };
  for (let z = 0; z < batch; z++) {
    const oa = z * M * K, ob = s.sharedB ? 0 : z * K * N;
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        const rv = r[z * M * N + m * N + n];
        g.dbias[n] += rv;
        g.dbiasAbs[n] += Math.abs(rv);
        for (let k = 0; k < K; k++) {
          const ia = s.transA ? oa + k * M + m : oa + m * K + k;
          const ib = s.transB ? ob + n * K + k : ob + k * N + n;
          g.da[ia] += rv * b[ib];
          g.daAbs[ia] += Math.abs(rv * b[ib]);
          g.db[ib] += rv * a[ia];
          g.dbAbs[ib] += Math.abs(rv * a[ia]);
        }
      }
    }
  }
  return g;
}

/** Σ_k |op(A)_mk · op(B)_kn| (+ |bias_n|) per output: the magnitude that bounds float32 rounding error. */
export function refMatmulAbs(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  s: RefMatmulSpec,
  bias?: ArrayLike<number> | null,
): Float64Array {
  const abs = (x: ArrayLike<number>) => Float64Array.from(x, Math.abs);
  return refMatmul(abs(a), abs(b), s, bias ? abs(bias) : null);
}
