/**
 * Fused multi-head self-attention with HF BertSelfAttention (eager) semantics and its backward:
 * `softmax(q·kᵀ/√D + (1 − mask)·f32_min)`, optional dropout on the probabilities, times v. Inputs are the
 * (B, T, H·D) outputs of the query/key/value projections, read per head with strides; the output is the
 * merged (B, T, H·D) context. Kernels: `kernels/attention.wgsl`.
 * @module
 */
import src from "../../kernels/attention.wgsl" with { type: "text" };
import { f32, gpu, splitGrid } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { Tensor } from "../engine/tensor.ts";
import { RNG_WGSL } from "./rng.ts";

const _CODE = `${RNG_WGSL}\n${src}`;
const _MAX_HEAD = 128;
/** Rows (queries or keys) per workgroup. */
const _WG = 64;

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Dropout probability on the attention probabilities (0 = none). */
  dropoutP?: number;
  /** Dropout stream: the same seed gives the same mask (the backward regenerates it). */
  seed?: number;
}

interface _Geom {
  b: number;
  t: number;
  h: number;
  d: number;
  d4: number;
}

function _geometry(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, numHeads: number): _Geom {
  for (const [x, name] of [[q, "q"], [k, "k"], [v, "v"]] as const) {
    if (x.dtype !== "f32" || x.shape.length !== 3) {
      throw new RangeError(`attention: ${name} must be f32 (B, T, H·D), got ${x}`);
    }
  }
  const [b, t, hd] = q.shape;
  if ([k, v].some((x) => x.shape[0] !== b || x.shape[1] !== t || x.shape[2] !== hd)) {
    throw new RangeError(`attention: q ${q}, k ${k} and v ${v} must have the same shape`);
  }
  if (!Number.isInteger(numHeads) || numHeads < 1 || hd % numHeads !== 0) {
    throw new RangeError(`attention: hidden size ${hd} is not divisible into ${numHeads} heads`);
  }
  const d = hd / numHeads;
  if (d > _MAX_HEAD) throw new RangeError(`attention: head size ${d} exceeds the supported ${_MAX_HEAD}`);
  if (mask && (mask.dtype !== "f32" || mask.size !== b * t)) {
    throw new RangeError(`attention: mask must be f32 (B, T) = (${b}, ${t}), got ${mask}`);
  }
  return { b, t, h: numHeads, d, d4: Math.ceil(d / 4) };
}

/** Copies (B, T, H·D) into (B, T, H·4·D4) with each head zero-padded to a multiple of 4. */
function _pad(x: Tensor, g: _Geom, name: string): Tensor {
  const out = Tensor.empty([g.b, g.t, g.h * g.d4 * 4], "f32", name);
  _padDispatch("pad_heads", x, out, g);
  return out;
}

/** The inverse of {@link _pad}. */
function _unpad(x: Tensor, g: _Geom, name: string): Tensor {
  const out = Tensor.empty([g.b, g.t, g.h * g.d], "f32", name);
  _padDispatch("unpad_heads", x, out, g);
  return out;
}

function _padDispatch(entry: string, x: Tensor, out: Tensor, g: _Geom): void {
  gpu().dispatch({
    label: `attention.${entry}`,
    code: _CODE,
    entryPoint: entry,
    inputs: [x.res],
    outputs: [out.res],
    params: [out.size, g.d, g.d4 * 4],
    workgroups: splitGrid(Math.ceil(out.size / 256)),
  });
}

/**
 * Multi-head scaled dot-product attention exactly as HF BertSelfAttention (eager): scores
 * `q·kᵀ/√D + (1 − mask)·f32_min` (f32_min = −3.4028234663852886e38, added as HF does, so a fully masked
 * row attends uniformly to all keys), softmax over keys, optional dropout on the probabilities (kept iff
 * `rng_uniform(seed, ((b·H + h)·T + i)·T + j) >= p`, scaled by 1/(1 − p)), times v.
 *
 * q, k, v are (B, T, H·D) f32 with heads as contiguous D-slices of the last dimension; mask is f32 (B, T)
 * of 1 (attend) / 0 (masked key) or null; returns the merged heads (B, T, H·D). Differentiable in q, k, v.
 * Saves only the per-row softmax max and sum (B, H, T) — the backward recomputes the probabilities — and
 * reads q, k, v, mask and the output in the backward (they must still be alive). Head sizes that are not
 * a multiple of 4 go through zero-padded copies. Head size ≤ 128.
 */
export function attention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  numHeads: number,
  opts: AttentionOptions = {},
): Tensor {
  const g = _geometry(q, k, v, mask, numHeads);
  const p = opts.dropoutP ?? 0;
  if (!(p >= 0 && p <= 1)) throw new RangeError(`attention: dropout probability ${p} is not in [0, 1]`);
  const seed = (opts.seed ?? 0) >>> 0;
  const padded = g.d % 4 !== 0;
  const qp = padded ? _pad(q, g, "attention.q_pad") : q;
  const kp = padded ? _pad(k, g, "attention.k_pad") : k;
  const vp = padded ? _pad(v, g, "attention.v_pad") : v;
  const params = [
    g.t,
    g.h,
    g.h * g.d4,
    mask ? 1 : 0,
    f32(Math.sqrt(g.d)),
    p > 0 ? 1 : 0,
    f32(p),
    f32(p < 1 ? 1 / (1 - p) : 0),
    seed,
  ];
  const constants = { D4: g.d4, WG: _WG };
  const workgroups: [number, number] = [Math.ceil(g.t / _WG), g.b * g.h];
  const maskRes = (mask ?? qp).res;
  const outP = Tensor.empty(qp.shape, "f32", "attention.out");
  const stats = Tensor.empty([g.b, g.h, g.t, 4], "f32", "attention.stats");
  if (g.t > 0 && g.b > 0) {
    gpu().dispatch({
      label: "attention.attn_fwd",
      code: _CODE,
      entryPoint: "attn_fwd",
      inputs: [qp.res, kp.res, vp.res, maskRes],
      outputs: [outP.res, stats.res],
      params,
      workgroups,
      constants,
    });
  }
  const out = padded ? _unpad(outP, g, "attention.out") : outP;
  const saved = padded ? [stats, qp, kp, vp, outP] : [stats];
  return record(out, "attention", [q, k, v], (gradOut) => {
    const dOut = padded ? _pad(gradOut, g, "attention.dout_pad") : gradOut;
    const dq = Tensor.empty(qp.shape, "f32", "attention.dq");
    const dk = Tensor.empty(qp.shape, "f32", "attention.dk");
    const dv = Tensor.empty(qp.shape, "f32", "attention.dv");
    if (g.t > 0 && g.b > 0) {
      gpu().dispatch({
        label: "attention.attn_bwd_dq",
        code: _CODE,
        entryPoint: "attn_bwd_dq",
        inputs: [qp.res, kp.res, vp.res, maskRes, dOut.res, outP.res],
        outputs: [dq.res, stats.res],
        params,
        workgroups,
        constants,
      });
      gpu().dispatch({
        label: "attention.attn_bwd_dkv",
        code: _CODE,
        entryPoint: "attn_bwd_dkv",
        inputs: [qp.res, kp.res, vp.res, maskRes, dOut.res, stats.res],
        outputs: [dk.res, dv.res],
        params,
        workgroups,
        constants,
      });
    }
    if (!padded) return [dq, dk, dv];
    dOut.dispose();
    const grads = [
      _unpad(dq, g, "attention.dq"),
      _unpad(dk, g, "attention.dk"),
      _unpad(dv, g, "attention.dv"),
    ];
    dq.dispose();
    dk.dispose();
    dv.dispose();
    return grads;
  }, saved);
}
