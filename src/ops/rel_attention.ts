/**
 * DeBERTa-v2/v3 disentangled self-attention (HF `DisentangledSelfAttention`, eager) and its backward:
 * scores `q·kᵀ/scale + (c2p/scale + p2c/scale)` with c2p_ij = q_i·pk[c_ij], p2c_ij = k_j·pq[p_ij] (the
 * relative-position projections gathered at log-bucketed relative distances), the 2-D mask
 * `mask_i·mask_j` applied with masked_fill(f32 min) (transformers ≥ 4.47: a padding query attends
 * uniformly to all keys), softmax, optional dropout, times v. Kernels: `kernels/rel_attention.wgsl`.
 *
 * The host builds the relative-position tables once per forward ({@link relLayout}): bucket indices, the
 * window of relative rows they reach, and the token mask, shared by every layer.
 * @module
 */
import src from "../../kernels/rel_attention.wgsl" with { type: "text" };
import { f32, gpu, type ParamValue, splitGrid } from "../engine/gpu.ts";
import { noGrad, record } from "../engine/tape.ts";
import { addInPlace } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { Tensor } from "../engine/tensor.ts";
import { RNG_WGSL } from "./rng.ts";

const _CODE = `${RNG_WGSL}\n${src}`;
const _WG = 64;

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
  /** First relative row any (i, j) of this length reaches. */
  rLo: number;
  /** Rows of that window: [rLo, rLo + wn). */
  wn: number;
  /** The u32 tables: cidx (T, T) | pidx (T, T) | mask (B, T) (see rel_attention.wgsl). */
  tables: Tensor;
}

interface _Tables {
  data: Uint32Array;
  r: number;
  rLo: number;
  wn: number;
}

/** The host part of {@link relLayout}: c_ij, p_ij and their row window for a length T (cached). */
function _indexTables(t: number, c: RelPositionConfig): _Tables {
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
  const data = new Uint32Array(2 * tt);
  let lo = r, hi = 0;
  for (let i = 0; i < t; i++) {
    for (let j = 0; j < t; j++) {
      const ci = clamp(rel(i - j) + span), pi = clamp(-rel(j - i) + span);
      data[i * t + j] = ci;
      data[tt + i * t + j] = pi;
      lo = Math.min(lo, ci, pi);
      hi = Math.max(hi, ci, pi);
    }
  }
  const out = { data, r, rLo: t ? lo : 0, wn: t ? hi - lo + 1 : 1 };
  if (_tableCache.size > 16) _tableCache.clear();
  _tableCache.set(key, out);
  return out;
}

const _tableCache = new Map<string, _Tables>();

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
  const { data, r, rLo, wn } = _indexTables(t, c);
  const all = new Uint32Array(data.length + b * t);
  all.set(data);
  for (let n = 0; n < b * t; n++) all[data.length + n] = mask ? (mask[n] ? 1 : 0) : 1;
  return { b, t, r, rLo, wn, tables: Tensor.from(all, [all.length], "u32", "rel_attention.tables") };
}

/**
 * Rows [rLo, rLo + wn) of a (R, C) table (the relative embeddings), the only ones a length-T input's
 * attention reads: projecting just these gives {@link relAttention} the same result as the whole table
 * for a fraction of the work. Differentiable: the other rows get zero gradient (as they do in HF).
 */
export function relWindowRows(x: Tensor, layout: RelLayout): Tensor {
  if (x.shape.length !== 2 || x.shape[0] !== layout.r || x.dtype !== "f32") {
    throw new RangeError(`relWindowRows: ${x} must be f32 (${layout.r}, C)`);
  }
  const c = x.shape[1], off = layout.rLo * c * 4, bytes = layout.wn * c * 4;
  const out = Tensor.empty([layout.wn, c], "f32", "rel_attention.window_rows");
  gpu().encoderForCopy().copyBufferToBuffer(x.buffer, off, out.buffer, 0, bytes);
  return record(out, "rel_window_rows", [x], (g) => {
    const dx = Tensor.empty(x.shape, "f32", "rel_attention.window_rows.grad");
    const enc = gpu().encoderForCopy();
    enc.clearBuffer(dx.buffer, 0, dx.byteLength);
    enc.copyBufferToBuffer(g.buffer, 0, dx.buffer, off, bytes);
    return [dx];
  });
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
 * Disentangled attention: q, k, v (B, T, H·D) f32; pk and pq the key/query projections of the
 * (normalised) relative embeddings for c2p and p2c — all R = 2·att_span rows (R, H·D), or only the
 * window rows [rLo, rLo + wn) of `layout` (wn, H·D), see {@link relWindowRows} — or null when that term
 * is not in pos_att_type;
 * `layout` from {@link relLayout}. Returns the merged heads (B, T, H·D), differentiable in q, k, v, pk and
 * pq. The products run as batched matmuls on head-major copies (H, B, T, D); the position terms only over
 * the window of relative rows a length-T input reaches (HF computes all 2·att_span rows; the others get
 * zero gradient either way), so the cost does not grow with position_buckets. Saves the head-major
 * q, k, v, the windows and the probabilities (H·B, T, T) for the backward.
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
  const d = hd / numHeads, h = numHeads, r = layout.r, wn = layout.wn;
  for (const [x, name] of [[pk, "pk"], [pq, "pq"]] as const) {
    if (
      x && (x.dtype !== "f32" || x.shape.length !== 2 || x.shape[1] !== hd || ![r, wn].includes(x.shape[0]))
    ) {
      throw new RangeError(
        `relAttention: ${name} must be f32 (${r}, ${hd}) or its window (${wn}, ${hd}), got ${x}`,
      );
    }
  }
  // First row of the window within pk/pq: the full table starts at row 0, a window at rLo.
  const rowOf = (x: Tensor) => (x.shape[0] === r ? layout.rLo : 0);
  const p = opts.dropoutP ?? 0;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`relAttention: dropout probability ${p} is not in [0, 1]`);
  if (!(opts.scale > 0)) throw new RangeError(`relAttention: scale ${opts.scale} must be > 0`);
  const seed = (opts.seed ?? 0) >>> 0;
  const inputs = [q, k, v, ...(pk ? [pk] : []), ...(pq ? [pq] : [])];
  const params = (n: number, rLo = layout.rLo): ParamValue[] => [
    t,
    h,
    b,
    d,
    r,
    rLo,
    wn,
    n,
    f32(opts.scale),
    p > 0 ? 1 : 0,
    f32(p),
    f32(p < 1 ? 1 / (1 - p) : 0),
    seed,
    t * t,
    2 * t * t,
    0,
  ];
  const copy = (entry: string, x: Tensor, shape: number[], name: string, rLo = layout.rLo): Tensor => {
    const out = Tensor.empty(shape, "f32", name);
    gpu().dispatch({
      label: `rel_attention.${entry}`,
      code: _CODE,
      entryPoint: entry,
      inputs: [x.res],
      outputs: [out.res],
      params: params(out.size, rLo),
      workgroups: splitGrid(Math.ceil(out.size / 256)),
    });
    return out;
  };
  const rowKernel = (entry: string, ins: Tensor[], outs: Tensor[]) =>
    gpu().dispatch({
      label: `rel_attention.${entry}`,
      code: _CODE,
      entryPoint: entry,
      inputs: ins.map((x) => x.res),
      outputs: outs.map((x) => x.res),
      params: params(0),
      workgroups: [Math.ceil(t / _WG), h * b],
      constants: { WG: _WG },
    });
  const zeros = (shape: number[], name: string) => {
    const z = Tensor.empty(shape, "f32", name);
    gpu().encoderForCopy().clearBuffer(z.buffer, 0, z.byteLength);
    return z;
  };
  const heads = [h, b, t, d], scoreShape = [h * b, t, t], winShape = [h * b, t, wn];
  const byHead = (x: Tensor) => Tensor.view(x, [h, b * t, x.shape[x.shape.length - 1]]);
  const byMatrix = (x: Tensor, cols: number) => Tensor.view(x, [h * b, t, cols]);

  const fwd = noGrad(() => {
    const qh = copy("split_heads", q, heads, "rel_attention.qh");
    const kh = copy("split_heads", k, heads, "rel_attention.kh");
    const vh = copy("split_heads", v, heads, "rel_attention.vh");
    const pkw = pk ? copy("window_heads", pk, [h, wn, d], "rel_attention.pkw", rowOf(pk)) : null;
    const pqw = pq ? copy("window_heads", pq, [h, wn, d], "rel_attention.pqw", rowOf(pq)) : null;
    const cc = matmul(byMatrix(qh, d), byMatrix(kh, d), { transB: true });
    const c2p = pkw ? matmul(byHead(qh), pkw, { transB: true }) : zeros(winShape, "rel_attention.c2p");
    const p2c = pqw ? matmul(byHead(kh), pqw, { transB: true }) : zeros(winShape, "rel_attention.p2c");
    const probs = Tensor.empty(scoreShape, "f32", "rel_attention.probs");
    const pz = p > 0 ? Tensor.empty(scoreShape, "f32", "rel_attention.probs_dropped") : probs;
    rowKernel("rel_softmax_fwd", [cc, c2p, p2c, layout.tables], [probs, pz]);
    for (const x of [cc, c2p, p2c]) x.dispose();
    const ctx = matmul(pz, byMatrix(vh, d));
    const out = copy("merge_heads", ctx, [b, t, hd], "rel_attention.out");
    ctx.dispose();
    return { out, qh, kh, vh, probs, pz, pkw, pqw };
  });
  const { out, qh, kh, vh, probs, pz, pkw, pqw } = fwd;
  const saved = [
    qh,
    kh,
    vh,
    probs,
    ...(pz !== probs ? [pz] : []),
    ...(pkw ? [pkw] : []),
    ...(pqw ? [pqw] : []),
  ];
  return record(out, "rel_attention", inputs, (gradOut) =>
    noGrad(() => {
      const gh = copy("split_heads", gradOut, heads, "rel_attention.dout_h");
      const w = matmul(byMatrix(gh, d), byMatrix(vh, d), { transB: true }); // dL/dPZ, then W in place
      const dvh = matmul(pz, byMatrix(gh, d), { transA: true });
      gh.dispose();
      const dc2p = Tensor.empty(winShape, "f32", "rel_attention.dc2p");
      const dp2c = Tensor.empty(winShape, "f32", "rel_attention.dp2c");
      rowKernel("rel_softmax_bwd", [probs, layout.tables], [w, dc2p]);
      rowKernel("rel_p2c_bwd", [w, layout.tables], [dp2c]);
      const dqh = matmul(w, byMatrix(kh, d));
      const dkh = matmul(w, byMatrix(qh, d), { transA: true });
      w.dispose();
      const grads: Tensor[] = [];
      const posGrad = (pos: Tensor, win: Tensor, dwin: Tensor, x: Tensor, dx: Tensor) => {
        const part = matmul(byHead(dwin), win); // (H, B·T, D)
        addInPlace(dx, part);
        part.dispose();
        const dw = matmul(byHead(dwin), byHead(x), { transA: true }); // (H, wn, D)
        grads.push(copy("unwindow_heads", dw, [...pos.shape], "rel_attention.dpos", rowOf(pos)));
        dw.dispose();
      };
      if (pk && pkw) posGrad(pk, pkw, dc2p, qh, dqh);
      if (pq && pqw) posGrad(pq, pqw, dp2c, kh, dkh);
      dc2p.dispose();
      dp2c.dispose();
      const merged = [dqh, dkh, dvh].map((x, i) => {
        const m = copy(
          "merge_heads",
          x,
          [b, t, hd],
          ["rel_attention.dq", "rel_attention.dk", "rel_attention.dv"][i],
        );
        x.dispose();
        return m;
      });
      return [...merged, ...grads];
    }), saved);
}
