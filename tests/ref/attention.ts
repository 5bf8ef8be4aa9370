/**
 * Float64 CPU reference for `src/ops/attention.ts`: HF BertSelfAttention (eager) forward and its analytic
 * backward (the formula autograd applies, including on fully masked rows).
 * @module
 */
import { rngUniform } from "../../src/ops/rng.ts";

/** f32's lowest value, HF's additive mask value. */
export const F32_MIN = -3.4028234663852886e38;

/** Problem geometry: batch, sequence, heads, head size. */
export interface AttnDims {
  b: number;
  t: number;
  h: number;
  d: number;
}

/** Dropout settings (p = 0: none). */
export interface AttnDropout {
  p: number;
  seed: number;
}

/** Dropout multiplier of probability (b, h, i, j) as the kernels draw it. */
export function dropFactor(dims: AttnDims, drop: AttnDropout, bh: number, i: number, j: number): number {
  if (drop.p <= 0) return 1;
  const keep = rngUniform(drop.seed, ((bh * dims.t + i) * dims.t + j) >>> 0) >= Math.fround(drop.p);
  return keep ? (drop.p < 1 ? 1 / (1 - drop.p) : 0) : 0;
}

/** Probabilities P (B, H, T, T) before dropout. */
export function attentionProbs(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  dims: AttnDims,
): Float64Array {
  const { b: B, t: T, h: H, d: D } = dims;
  const HD = H * D;
  const P = new Float64Array(B * H * T * T);
  const s = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        let m = -Infinity;
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) {
            dot += q[(b * T + i) * HD + h * D + d] * k[(b * T + j) * HD + h * D + d];
          }
          s[j] = dot / Math.sqrt(D) + (mask ? (1 - mask[b * T + j]) * F32_MIN : 0);
          m = Math.max(m, s[j]);
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += s[j] = Math.exp(s[j] - m);
        const row = ((b * H + h) * T + i) * T;
        for (let j = 0; j < T; j++) P[row + j] = s[j] / sum;
      }
    }
  }
  return P;
}

/** The attention output (B, T, H·D). */
export function attentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  dims: AttnDims,
  drop: AttnDropout = { p: 0, seed: 0 },
): Float64Array {
  const { b: B, t: T, h: H, d: D } = dims;
  const HD = H * D;
  const P = attentionProbs(q, k, mask, dims);
  const out = new Float64Array(B * T * HD);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          const p = P[(bh * T + i) * T + j] * dropFactor(dims, drop, bh, i, j);
          if (p === 0) continue;
          for (let d = 0; d < D; d++) {
            out[(b * T + i) * HD + h * D + d] += p * v[(b * T + j) * HD + h * D + d];
          }
        }
      }
    }
  }
  return out;
}

/** Gradients (dq, dk, dv) of sum(out ⊙ dOut) by the analytic softmax backward. */
export function attentionGradRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  mask: ArrayLike<number> | null,
  dOut: ArrayLike<number>,
  dims: AttnDims,
  drop: AttnDropout = { p: 0, seed: 0 },
): [Float64Array, Float64Array, Float64Array] {
  const { b: B, t: T, h: H, d: D } = dims;
  const HD = H * D;
  const P = attentionProbs(q, k, mask, dims);
  const dq = new Float64Array(B * T * HD),
    dk = new Float64Array(B * T * HD),
    dv = new Float64Array(B * T * HD);
  const dP = new Float64Array(T);
  const sq = Math.sqrt(D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      const at = (r: number, d: number) => (b * T + r) * HD + h * D + d;
      for (let i = 0; i < T; i++) {
        let rowsum = 0;
        for (let j = 0; j < T; j++) {
          const z = dropFactor(dims, drop, bh, i, j);
          const pij = P[(bh * T + i) * T + j];
          let dpd = 0;
          for (let d = 0; d < D; d++) dpd += dOut[at(i, d)] * v[at(j, d)];
          dP[j] = dpd * z;
          rowsum += pij * dP[j];
          for (let d = 0; d < D; d++) dv[at(j, d)] += pij * z * dOut[at(i, d)];
        }
        for (let j = 0; j < T; j++) {
          const ds = P[(bh * T + i) * T + j] * (dP[j] - rowsum) / sq;
          for (let d = 0; d < D; d++) {
            dq[at(i, d)] += ds * k[at(j, d)];
            dk[at(j, d)] += ds * q[at(i, d)];
          }
        }
      }
    }
  }
  return [dq, dk, dv];
}
