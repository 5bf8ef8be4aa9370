/**
 * DeBERTa-v2/v3 disentangled self-attention (HF `DisentangledSelfAttention`, eager) and its backward:
 * scores `q·kᵀ/scale + (c2p/scale + p2c/scale)` with c2p_ij = q_i·pk[c_ij], p2c_ij = k_j·pq[p_ij] (the
 * relative-position projections gathered at log-bucketed relative distances), the 2-D mask
 * `mask_i·mask_j` applied with masked_fill(f32 min) (transformers ≥ 4.47: a padding query attends
 * uniformly to all keys), softmax, optional dropout, times v. Kernels: `kernels/rel_attention.wgsl`.
 *
 * The host builds the relative-position tables once per forward ({@link relLayout}): bucket indices, their
 * inverse lists (for the position gradients) and the token mask, shared by every layer.
 * @module
 */
import src from "../../kernels/rel_attention.wgsl" with { type: "text" };
import { f32, gpu, type ParamValue, splitGrid } from "../engine/gpu.ts";
import { needsGrad, record } from "../engine/tape.ts";
import { Tensor } from "../engine/tensor.ts";
import { RNG_WGSL } from "./rng.ts";

const _CODE = `${RNG_WGSL}\n${src}`;
const _WG = 64;
const _MAX_HEAD = 128;

/**
 * HF `make_log_bucket_position` for one relative distance: distances inside (−mid, mid) stay, larger ones
 * map to `sign · (ceil(log(|d|/mid) / log((max_position − 1)/mid) · (mid − 1)) + mid)`, computed in
 * float32 as torch does (mid = bucket_size / 2).
 */
export function logBucketPosition(rel: number, bucketSize: number, maxPosition: number): number {
  const f = Math.fround;
  const mid = Math.floor(bucketSize / 2);
  const absPos = rel < mid && rel > -mid ? mid - 1 : Math.abs(rel);
  if (absPos <= mid) return rel;
  const num = f(Math.log(f(absPos / mid)));
  const den = f(Math.log(f((maxPosition - 1) / mid)));
  const logPos = Math.ceil(f(f(num / den) * (mid - 1))) + mid;
  return logPos * Math.sign(rel);
}

/** HF `build_relative_position` for one distance `i − j`: bucketed when bucket_size and max_position > 0. */
export function relativePosition(rel: number, bucketSize: number, maxPosition: number): number {
  return bucketSize > 0 && maxPosition > 0 ? logBucketPosition(rel, bucketSize, maxPosition) : rel;
}

/** Relative-position geometry of a DeBERTa encoder. */
export interface RelPositionConfig {
  /** `position_buckets` (≤ 0: no buckets). */
  positionBuckets: number;
  /** `max_relative_positions` after HF's default (< 1 → max_position_embeddings). */
  maxRelativePositions: number;
}

/** att_span (`pos_ebd_size`): position_buckets when > 0, else max_relative_positions. */
export function attSpan(c: RelPositionConfig): number {
  return c.positionBuckets > 0 ? c.positionBuckets : c.maxRelativePositions;
}

/** The index tables and mask of one batch, on the GPU, shared by every layer of a forward. */
export interface RelLayout {
  /** Batch size B. */
  b: number;
  /** Sequence length T. */
  t: number;
  /** Rows of each position plane: 2·att_span. */
  r: number;
  /** The u32 tables (layout in rel_attention.wgsl). */
  tables: Tensor;
  /** Offsets of pidx, coff, cpairs, poff, ppairs, mask in `tables`. */
  offsets: [number, number, number, number, number, number];
}

/** The host part of {@link relLayout}: c_ij, p_ij and their inverse lists for a length T (cached). */
function _indexTables(t: number, c: RelPositionConfig): { data: Uint32Array; r: number } {
  const key = `${t}:${c.positionBuckets}:${c.maxRelativePositions}`;
  const hit = _tableCache.get(key);
  if (hit) return hit;
  const span = attSpan(c), r = 2 * span, tt = t * t;
  const clamp = (x: number) => Math.min(Math.max(x, 0), r - 1);
  const bucket = new Map<number, number>();
  const rel = (d: number) => {
    let v = bucket.get(d);
    if (v === undefined) bucket.set(d, v = relativePosition(d, c.positionBuckets, c.maxRelativePositions));
    return v;
  };
  const data = new Uint32Array(4 * tt + 2 * (r + 1));
  const cidx = data.subarray(0, tt), pidx = data.subarray(tt, 2 * tt);
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < t; j++) {
      cidx[i * t + j] = clamp(rel(i - j) + span);
      pidx[i * t + j] = clamp(-rel(j - i) + span);
    }
  }
  _inverse(cidx, r, data.subarray(2 * tt, 2 * tt + r + 1), data.subarray(2 * tt + r + 1, 3 * tt + r + 1));
  _inverse(pidx, r, data.subarray(3 * tt + r + 1, 3 * tt + 2 * r + 2), data.subarray(3 * tt + 2 * r + 2));
  const out = { data, r };
  if (_tableCache.size > 16) _tableCache.clear();
  _tableCache.set(key, out);
  return out;
}

const _tableCache = new Map<string, { data: Uint32Array; r: number }>();

/** CSR inverse of an index table: pairs (flat positions) grouped by value, ascending. */
function _inverse(idx: Uint32Array, r: number, off: Uint32Array, pairs: Uint32Array): void {
  off.fill(0);
  for (const v of idx) off[v + 1]++;
  for (let k = 0; k < r; k++) off[k + 1] += off[k];
  const next = off.slice(0, r);
  for (let n = 0; n < idx.length; n++) pairs[next[idx[n]]++] = n;
}

/**
 * Uploads the relative-position tables for (B, T) and the token mask (B, T) of 1/0 (null: all 1).
 * Call once per forward; dispose with the forward's scope.
 */
export function relLayout(
  b: number,
  t: number,
  mask: ArrayLike<number> | null,
  c: RelPositionConfig,
): RelLayout {
  if (attSpan(c) < 1) throw new RangeError(`relative attention needs att_span ≥ 1, got ${attSpan(c)}`);
  if (mask && mask.length !== b * t) {
    throw new RangeError(`mask has ${mask.length} values, expected ${b}×${t}`);
  }
  const { data, r } = _indexTables(t, c);
  const tt = t * t;
  const all = new Uint32Array(data.length + b * t);
  all.set(data);
  for (let n = 0; n < b * t; n++) all[data.length + n] = mask ? (mask[n] ? 1 : 0) : 1;
  const offsets: RelLayout["offsets"] = [
    tt,
    2 * tt,
    2 * tt + r + 1,
    3 * tt + r + 1,
    3 * tt + 2 * r + 2,
    data.length,
  ];
  return { b, t, r, tables: Tensor.from(all, [all.length], "u32", "rel_attention.tables"), offsets };
}

/** Options of {@link relAttention}. */
export interface RelAttentionOptions {
  /** Divisor of every score term: HF's sqrt(D · (1 + #pos_att_types)). */
  scale: number;
  /** Dropout probability on the attention probabilities (0 = none). */
  dropoutP?: number;
  /** Dropout stream: the same seed gives the same mask (the backward regenerates it). */
  seed?: number;
}

/**
 * Disentangled attention: q, k, v (B, T, H·D) f32 with D a multiple of 4 (≤ 128); pk and pq (R, H·D) the
 * key/query projections of the (normalised) relative embeddings for c2p and p2c, or null when that term
 * is not in pos_att_type; `layout` from {@link relLayout}. Returns the merged heads (B, T, H·D),
 * differentiable in q, k, v, pk and pq. Saves the scores (B, H, T, T) for the backward when a gradient is
 * needed.
 */
export function relAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  pk: Tensor | null,
  pq: Tensor | null,
  layout: RelLayout,
  numHeads: number,
  opts: RelAttentionOptions,
): Tensor {
  for (const [x, name] of [[q, "q"], [k, "k"], [v, "v"]] as const) {
    if (x.dtype !== "f32" || x.shape.length !== 3) {
      throw new RangeError(`relAttention: ${name} must be f32 (B, T, H·D), got ${x}`);
    }
  }
  const [b, t, hd] = q.shape;
  if ([k, v].some((x) => x.shape.join() !== q.shape.join())) {
    throw new RangeError(`relAttention: q ${q}, k ${k} and v ${v} must have the same shape`);
  }
  if (b !== layout.b || t !== layout.t) {
    throw new RangeError(`relAttention: layout is for (${layout.b}, ${layout.t}), inputs are (${b}, ${t})`);
  }
  if (!Number.isInteger(numHeads) || numHeads < 1 || hd % numHeads !== 0) {
    throw new RangeError(`relAttention: hidden size ${hd} is not divisible into ${numHeads} heads`);
  }
  const d = hd / numHeads;
  if (d % 4 !== 0 || d > _MAX_HEAD) {
    throw new RangeError(`relAttention: head size ${d} must be a multiple of 4 and at most ${_MAX_HEAD}`);
  }
  for (const [x, name] of [[pk, "pk"], [pq, "pq"]] as const) {
    if (x && (x.dtype !== "f32" || x.size !== layout.r * hd)) {
      throw new RangeError(`relAttention: ${name} must be f32 (${layout.r}, ${hd}), got ${x}`);
    }
  }
  const p = opts.dropoutP ?? 0;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`relAttention: dropout probability ${p} is not in [0, 1]`);
  if (!(opts.scale > 0)) throw new RangeError(`relAttention: scale ${opts.scale} must be > 0`);
  const seed = (opts.seed ?? 0) >>> 0;
  const h = numHeads, r = layout.r;
  const inputs = [q, k, v, ...(pk ? [pk] : []), ...(pq ? [pq] : [])];
  const grad = needsGrad(inputs);

  const planeBytes = r * hd * 4;
  const pos = Tensor.empty([2, r, hd], "f32", "rel_attention.pos");
  const enc = gpu().encoderForCopy();
  for (const [x, off] of [[pk, 0], [pq, planeBytes]] as const) {
    if (x) enc.copyBufferToBuffer(x.buffer, 0, pos.buffer, off, planeBytes);
    else enc.clearBuffer(pos.buffer, off, planeBytes);
  }
  const o = layout.offsets;
  const params = (save: boolean): ParamValue[] => [
    t,
    h,
    hd / 4,
    d / 4,
    r,
    f32(opts.scale),
    p > 0 ? 1 : 0,
    f32(p),
    f32(p < 1 ? 1 / (1 - p) : 0),
    seed,
    save ? 1 : 0,
    b,
    ...o,
    0,
    0,
  ];
  const rows: [number, number] = [Math.ceil(t / _WG), b * h];
  const constants = { WG: _WG };
  const out = Tensor.empty(q.shape, "f32", "rel_attention.out");
  const stats = Tensor.empty([b, h, t, 2], "f32", "rel_attention.stats");
  const scores = Tensor.empty(grad ? [b, h, t, t] : [1], "f32", "rel_attention.scores");
  if (b > 0 && t > 0) {
    gpu().dispatch({
      label: "rel_attention.rel_attn_fwd",
      code: _CODE,
      entryPoint: "rel_attn_fwd",
      inputs: [q.res, k.res, v.res, pos.res, layout.tables.res],
      outputs: [out.res, stats.res, scores.res],
      params: params(grad),
      workgroups: rows,
      constants,
    });
  }
  return record(out, "rel_attention", inputs, (gradOut) => {
    const pr = Tensor.empty([b, h, t, t], "f32", "rel_attention.probs");
    const dq = Tensor.empty(q.shape, "f32", "rel_attention.dq");
    const dk = Tensor.empty(q.shape, "f32", "rel_attention.dk");
    const dv = Tensor.empty(q.shape, "f32", "rel_attention.dv");
    const dpos = Tensor.empty([2, r, hd], "f32", "rel_attention.dpos");
    const prm = params(true);
    const lay = layout.tables.res;
    if (b > 0 && t > 0) {
      gpu().dispatch({
        label: "rel_attention.rel_attn_bwd_scores",
        code: _CODE,
        entryPoint: "rel_attn_bwd_scores",
        inputs: [v.res, lay, gradOut.res, stats.res],
        outputs: [scores.res, pr.res],
        params: prm,
        workgroups: rows,
        constants,
      });
      gpu().dispatch({
        label: "rel_attention.rel_attn_bwd_dq",
        code: _CODE,
        entryPoint: "rel_attn_bwd_dq",
        inputs: [k.res, pos.res, lay, scores.res],
        outputs: [dq.res],
        params: prm,
        workgroups: rows,
        constants,
      });
      gpu().dispatch({
        label: "rel_attention.rel_attn_bwd_dkv",
        code: _CODE,
        entryPoint: "rel_attn_bwd_dkv",
        inputs: [q.res, pos.res, lay, scores.res, pr.res, gradOut.res],
        outputs: [dk.res, dv.res],
        params: prm,
        workgroups: rows,
        constants,
      });
    } else {
      for (const x of [dq, dk, dv]) gpu().encoderForCopy().clearBuffer(x.buffer, 0, x.byteLength);
    }
    gpu().dispatch({
      label: "rel_attention.rel_attn_bwd_pos",
      code: _CODE,
      entryPoint: "rel_attn_bwd_pos",
      inputs: [q.res, k.res, lay, scores.res],
      outputs: [dpos.res],
      params: prm,
      workgroups: splitGrid(Math.ceil((2 * r * hd) / 256)),
    });
    const grads: (Tensor | null)[] = [dq, dk, dv];
    for (const [x, off] of [[pk, 0], [pq, planeBytes]] as const) {
      if (!x) continue;
      const gx = Tensor.empty(x.shape, "f32", "rel_attention.dpos_plane");
      gpu().encoderForCopy().copyBufferToBuffer(dpos.buffer, off, gx.buffer, 0, planeBytes);
      grads.push(gx);
    }
    pr.dispose();
    dpos.dispose();
    return grads;
  }, [stats, scores, pos]);
}
