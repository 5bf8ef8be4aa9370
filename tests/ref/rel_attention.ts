/**
 * Float64 CPU reference for `src/ops/rel_attention.ts`: HF DeBERTa-v2 DisentangledSelfAttention (eager,
 * transformers ≥ 4.47 masking) forward, one (i, j) pair at a time with the modeling file's gather indices
 * (c2p_pos = clamp(rel[i, j] + span), p2c_pos = clamp(−rel[j, i] + span) gathered on (key, query) and
 * transposed), computed independently of the op's tables and windows, and its analytic backward.
 * @module
 */
import { relativePosition } from "../../src/ops/rel_attention.ts";
import { dropFactor, F32_MIN } from "./attention.ts";

/** Geometry: batch, sequence, heads, head size; relative positions: buckets, max relative positions. */
export interface RelDims {
  b: number;
  t: number;
  h: number;
  d: number;
  buckets: number;
  maxRel: number;
}

/** Inputs; pk/pq (2·span, H·D) or null when the term is off; mask (B, T) of 1/0 or null. */
export interface RelInputs {
  q: ArrayLike<number>;
  k: ArrayLike<number>;
  v: ArrayLike<number>;
  pk: ArrayLike<number> | null;
  pq: ArrayLike<number> | null;
  mask: ArrayLike<number> | null;
}

/** Dropout settings (p = 0: none). */
export interface RelDropout {
  p: number;
  seed: number;
}

/** att_span of the geometry. */
export function span(dims: RelDims): number {
  return dims.buckets > 0 ? dims.buckets : dims.maxRel;
}

/** HF's c2p and p2c gather indices for query i, key j. */
export function gatherIndices(dims: RelDims, i: number, j: number): [number, number] {
  const s = span(dims);
  const clamp = (x: number) => Math.min(Math.max(x, 0), 2 * s - 1);
  const rel = (a: number, b: number) => relativePosition(a - b, dims.buckets, dims.maxRel);
  // c2p_pos[i, j] = clamp(rel[i, j] + span); p2c_pos[j, i] = clamp(−rel[j, i] + span), then transposed.
  return [clamp(rel(i, j) + s), clamp(-rel(j, i) + s)];
}

function _dot(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number {
  let s = 0;
  for (let x = 0; x < d; x++) s += a[ao + x] * b[bo + x];
  return s;
}

/** Probabilities P (B, H, T, T) before dropout. */
export function relProbs(x: RelInputs, dims: RelDims, scale: number): Float64Array {
  const { b: B, t: T, h: H, d: D } = dims;
  const HD = H * D;
  const P = new Float64Array(B * H * T * T);
  const s = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * HD + h * D;
        for (let j = 0; j < T; j++) {
          const ko = (b * T + j) * HD + h * D;
          const [c, p] = gatherIndices(dims, i, j);
          let v = _dot(x.q, qo, x.k, ko, D) / scale;
          const c2p = x.pk ? _dot(x.q, qo, x.pk, c * HD + h * D, D) / scale : 0;
          const p2c = x.pq ? _dot(x.k, ko, x.pq, p * HD + h * D, D) / scale : 0;
          v += c2p + p2c;
          if (x.mask && x.mask[b * T + i] * x.mask[b * T + j] === 0) v = F32_MIN;
          s[j] = v;
        }
        const m = Math.max(...s);
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
export function relAttentionRef(
  x: RelInputs,
  dims: RelDims,
  scale: number,
  drop: RelDropout = { p: 0, seed: 0 },
): Float64Array {
  const { b: B, t: T, h: H, d: D } = dims;
  const HD = H * D;
  const P = relProbs(x, dims, scale);
  const out = new Float64Array(B * T * HD);
  const ad = { b: B, t: T, h: H, d: D };
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          const w = P[(bh * T + i) * T + j] * dropFactor(ad, drop, bh, i, j);
          if (w === 0) continue;
          for (let e = 0; e < D; e++) {
            out[(b * T + i) * HD + h * D + e] += w * x.v[(b * T + j) * HD + h * D + e];
          }
        }
      }
    }
  }
  return out;
}

/** Analytic gradients [dq, dk, dv, dpk, dpq] of sum(out ⊙ R) (dpk/dpq zero-length when the term is off). */
export function relAttentionGradRef(
  x: RelInputs,
  r: ArrayLike<number>,
  dims: RelDims,
  scale: number,
  drop: RelDropout = { p: 0, seed: 0 },
): Float64Array[] {
  const { b: B, t: T, h: H, d: D } = dims;
  const HD = H * D, R = 2 * span(dims);
  const P = relProbs(x, dims, scale);
  const ad = { b: B, t: T, h: H, d: D };
  const dq = new Float64Array(B * T * HD),
    dk = new Float64Array(B * T * HD),
    dv = new Float64Array(B * T * HD);
  const dpk = new Float64Array(x.pk ? R * HD : 0), dpq = new Float64Array(x.pq ? R * HD : 0);
  const dp = new Float64Array(T), z = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const bh = b * H + h;
      for (let i = 0; i < T; i++) {
        const qo = (b * T + i) * HD + h * D;
        let delta = 0;
        for (let j = 0; j < T; j++) {
          z[j] = dropFactor(ad, drop, bh, i, j);
          dp[j] = _dot(r, qo, x.v, (b * T + j) * HD + h * D, D);
          delta += P[(bh * T + i) * T + j] * z[j] * dp[j];
        }
        for (let j = 0; j < T; j++) {
          const ko = (b * T + j) * HD + h * D;
          const pij = P[(bh * T + i) * T + j];
          for (let e = 0; e < D; e++) dv[ko + e] += pij * z[j] * r[qo + e];
          if (x.mask && x.mask[b * T + i] * x.mask[b * T + j] === 0) continue; // masked_fill: no gradient
          const w = pij * (z[j] * dp[j] - delta) / scale;
          const [c, p] = gatherIndices(dims, i, j);
          for (let e = 0; e < D; e++) {
            dq[qo + e] += w * (x.k[ko + e] + (x.pk ? x.pk[c * HD + h * D + e] : 0));
            dk[ko + e] += w * (x.q[qo + e] + (x.pq ? x.pq[p * HD + h * D + e] : 0));
            if (x.pk) dpk[c * HD + h * D + e] += w * x.q[qo + e];
            if (x.pq) dpq[p * HD + h * D + e] += w * x.k[ko + e];
          }
        }
      }
    }
  }
  return [dq, dk, dv, dpk, dpq];
}
