/**
 * Fused multi-head self-attention with HF BertSelfAttention (eager) semantics and its backward:
 * `softmax(q·kᵀ/√D + (1 − mask)·f32_min)`, optional dropout on the probabilities, times v. Inputs are the
 * (B, T, H·D) outputs of the query/key/value projections, read per head with strides; the output is the
 * merged (B, T, H·D) context. Kernels: `kernels/attention.wgsl`.
 * @module
 */
import src from "../../kernels/attention.wgsl" with { type: "text" };
import { f32, gpu, type ParamValue, splitGrid } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { noteFallback } from "../engine/dispatch_trace.ts";
import { dispatchStaged } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";
import { RNG_WGSL } from "./rng.ts";
import { isCpuAdapter } from "../engine/adapter.ts";

/** Per-texture row loaders (see attention.wgsl: GL backends reject textures as function parameters). */
function _texRowLoaders(): string {
  const textures = ["gk_tex", "gv_tex", "hk_tex", "hv_tex", "iq_tex", "ig_tex"];
  const load = (t: string, dx: number) => `textureLoad(${t}, vec2u(x + ${dx}u, y))`;
  const mat = (t: string, dx: number) => `mat4x4f(${[0, 1, 2, 3].map((i) => load(t, dx + i)).join(", ")})`;
  return textures.map((t) =>
    `fn ${t}_row(x: u32, y: u32) -> Row {\n  return Row(${
      [0, 4, 8, 12].map((dx) => mat(t, dx)).join(",\n    ")
    });\n}\n`
  ).join("");
}

/**
 * The subgroup form of the row loaders: lane s fetches texels 2s and 2s + 1 of the row and the 16 come from
 * subgroupBroadcast (every invocation of a workgroup streams the same rows, and lavapipe charges a texel
 * fetch per lane). Needs subgroups of at least 8 invocations whose lanes all reach the call.
 */
function _texRowLoadersSubgroup(): string {
  const textures = ["gk_tex", "gv_tex", "hk_tex", "hv_tex", "iq_tex", "ig_tex"];
  const texel = (i: number) => `subgroupBroadcast(f${i & 1}, ${i >> 1}u)`;
  const mat = (dx: number) => `mat4x4f(${[0, 1, 2, 3].map((i) => texel(dx + i)).join(", ")})`;
  return textures.map((t) =>
    `fn ${t}_row(x: u32, y: u32) -> Row {\n` +
    `  let i = min(2u * sg_lane, 14u);\n` +
    `  let f0 = textureLoad(${t}, vec2u(x + i, y));\n` +
    `  let f1 = textureLoad(${t}, vec2u(x + i + 1u, y));\n` +
    `  return Row(${[0, 4, 8, 12].map(mat).join(",\n    ")});\n}\n`
  ).join("");
}

const _CODE = `${RNG_WGSL}\n${src}\n${_texRowLoaders()}`;

/**
 * The D = 64 kernels with subgroup row loaders: each entry point also takes its subgroup lane, and the
 * early exit of invocations past T becomes one of whole subgroups (`subgroupAll`), so every lane of a
 * subgroup that streams rows takes part in the broadcasts (lanes past T compute on clamped rows and store
 * nothing, as before). Bitwise the same results.
 */
function _subgroupCode(prefix: string): string {
  let out = `${prefix}${RNG_WGSL}\n${src}\nvar<private> sg_lane: u32;\n${_texRowLoadersSubgroup()}`;
  for (const entry of ["attn_fwd64", "attn_bwd_dq64", "attn_bwd_dkv64"]) {
    const sig = `fn ${entry}(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {`;
    if (!out.includes(sig)) {
      throw new Error(`attention: kernels/attention.wgsl changed: ${entry}'s signature`);
    }
    out = out.replace(
      sig,
      `fn ${entry}(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, ` +
        `@builtin(subgroup_invocation_id) sg_in: u32) {\n  sg_lane = sg_in;`,
    );
  }
  const exit = "if (r0 >= t) { return; }";
  if (out.split(exit).length !== 4) {
    throw new Error("attention: kernels/attention.wgsl changed: the early exits");
  }
  return out.replaceAll(exit, "if (subgroupAll(r0 >= t)) { return; }");
}

let _subgroups: "auto" | "off" = "auto";
let _sgCode: { prefix: string; code: string } | null = null;

/**
 * Whether the D = 64 kernels may read their streamed rows through subgroup broadcasts (`"auto"`: on CPU
 * adapters whose device runs subgroup builtins with at least 8 invocations per subgroup) or never
 * (`"off"`; tests and A/B benchmarks). Results are bitwise the same either way.
 */
export function setAttentionSubgroups(mode: "auto" | "off"): void {
  _subgroups = mode;
}

/** Whether the D = 64 attention kernels use subgroup row loaders on this device now. */
export function attentionUsesSubgroups(): boolean {
  if (_subgroups === "off") return false;
  const g = gpu();
  return g.subgroupWgsl !== null && (g.adapterInfo.subgroupMinSize ?? 0) >= 8 && isCpuAdapter(g.adapterInfo);
}

/** The source of the D = 64 dispatches. */
function _code64(): string {
  if (!attentionUsesSubgroups()) return _CODE;
  const prefix = gpu().subgroupWgsl!;
  if (_sgCode?.prefix !== prefix) _sgCode = { prefix, code: _subgroupCode(prefix) };
  return _sgCode.code;
}
const _MAX_HEAD = 128;
/** Rows (queries or keys) per workgroup of the generic kernels. */
const _WG = 64;
/** Invocations per workgroup of the D = 64 kernels (4 rows each). */
const _WG64 = 16;

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

// ---- staging textures of the D = 64 path ---------------------------------------------------------------

const _textures = new Map<string, GPUTexture>();
const _MAX_TEXTURES = 8;

/**
 * A cached rgba32float texture for `role` at least w×h. Reusing one across calls is safe: commands run in
 * encoding order, so a later staging copy only overwrites it after earlier kernels have read it. Sizes are
 * never powers of two: llvmpipe compiles a separate shader variant for power-of-two texture sizes (seconds
 * per kernel), so keeping every texture non-power-of-two means one variant. Heights are rounded up to 64
 * rows (+1) so varying sequence lengths share textures.
 */
function _texture(role: string, w: number, h: number, copyDst: boolean): GPUTexture {
  let width = w;
  while (_isPow2(width)) width++; // 1 → 3, 32 → 33
  const height = Math.ceil(h / 64) * 64 + 1;
  const key = `${role}:${width}x${height}`;
  let tex = _textures.get(key);
  if (tex) {
    _textures.delete(key);
    _textures.set(key, tex); // most recently used last
    return tex;
  }
  if (_textures.size >= _MAX_TEXTURES) {
    gpu().flush(); // encoded work may still use the evicted texture: submit it before destroying
    const [oldest, old] = _textures.entries().next().value!;
    _textures.delete(oldest);
    gpu().destroy(old);
  }
  tex = gpu().device.createTexture({
    label: `attention.${role}`,
    size: [width, height],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | (copyDst ? GPUTextureUsage.COPY_DST : 0),
  });
  _textures.set(key, tex);
  return tex;
}

function _isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** Copies rows [b0·T, (b0 + bc)·T) of a (B, T, H·64) tensor into a texture (texel row = one token). */
function _stage(x: Tensor, role: string, g: _Geom, b0: number, bc: number): GPUTexture {
  const w = g.h * 16;
  const tex = _texture(role, w, bc * g.t, true);
  gpu().encoderForCopy().copyBufferToTexture(
    { buffer: x.buffer, offset: b0 * g.t * w * 16, bytesPerRow: w * 16, rowsPerImage: bc * g.t },
    { texture: tex },
    [w, bc * g.t, 1],
  );
  return tex;
}

/** Which kernels {@link attention} uses: see {@link setAttentionPath}. */
export type AttentionPath = "auto" | "generic" | "texture";

let _path: AttentionPath = "auto";
let _texLimit = 0;

/**
 * Selects the attention kernels (for tests and benchmarks): `"auto"` uses the D = 64 texture kernels
 * when they apply and the generic ones otherwise, except on SwiftShader (Chromium's fallback adapter),
 * whose shader compiler spends ~47 s on the three D = 64 kernels, where the generic kernels run;
 * `"texture"` uses the D = 64 kernels wherever they apply; `"generic"` always uses the generic kernels.
 * `textureLimit` (> 0) overrides the texture side limit so tests can exercise the batch chunking.
 */
export function setAttentionPath(path: AttentionPath, textureLimit = 0): void {
  _path = path;
  _texLimit = textureLimit;
}

/** SwiftShader: compiling the D = 64 kernels costs more than the generic kernels save (issue 12). */
function _slowCompiler(): boolean {
  const a = gpu().adapterInfo;
  return /swiftshader/i.test(`${a.vendor} ${a.architecture} ${a.description}`);
}

/** Batches per chunk of the D = 64 path (0 when it cannot be used: other D or textures too small). */
function _fastChunk(g: _Geom): number {
  if (_path === "generic" || g.d !== 64 || g.t === 0 || g.b === 0) return 0;
  if (_path === "auto" && _slowCompiler()) return 0;
  // Two texels of slack on each side for the non-power-of-two sizes (see _texture).
  const max = (_texLimit || gpu().limits.maxTextureDimension2D) - 2;
  if (g.h * 16 > max || g.t > max) return 0;
  const rows = Math.floor(max / 64) * 64; // texture heights are rounded up to 64 rows, plus one
  return Math.max(0, Math.min(Math.floor(rows / g.t), Math.floor(rows / g.h), g.b));
}

/** Uniform parameters shared by every attention kernel (see `Params` in the WGSL). */
function _params(g: _Geom, hasMask: boolean, p: number, seed: number, b0: number): ParamValue[] {
  return [
    g.t,
    g.h,
    g.h * g.d4,
    hasMask ? 1 : 0,
    f32(Math.sqrt(g.d)),
    p > 0 ? 1 : 0,
    f32(p),
    f32(p < 1 ? 1 / (1 - p) : 0),
    seed,
    b0,
    g.d4,
  ];
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
 * reads q, k, v, mask and the output in the backward (they must still be alive).
 *
 * D = 64 (BERT) runs register-tiled kernels that read the streamed operand from staging textures; other
 * head sizes (≤ 128) run the generic kernels, through zero-padded copies when D is not a multiple of 4.
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
  const chunk = _fastChunk(g);
  if (chunk > 0) return _attention64(q, k, v, mask, g, p, seed, chunk);
  if (_path !== "generic" && g.d === 64 && g.t > 0 && g.b > 0) {
    noteFallback("attention", `D = 64 but T = ${g.t}, H = ${g.h} exceed the texture limit`);
  }
  return _attentionGeneric(q, k, v, mask, g, p, seed);
}

function _attention64(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  g: _Geom,
  p: number,
  seed: number,
  chunk: number,
): Tensor {
  const out = Tensor.empty(q.shape, "f32", "attention.out");
  const stats = Tensor.empty([g.b, g.h, g.t, 4], "f32", "attention.stats");
  const maskRes = (mask ?? q).res;
  const constants = { WG: _WG64 };
  const code = _code64();
  const tag = code === _CODE ? "" : "_sg";
  const xGroups = Math.ceil(g.t / (4 * _WG64));
  for (let b0 = 0; b0 < g.b; b0 += chunk) {
    const bc = Math.min(chunk, g.b - b0);
    const tk = _stage(k, "A", g, b0, bc);
    const tv = _stage(v, "B", g, b0, bc);
    dispatchStaged({
      label: `attention.attn_fwd64${tag}`,
      code,
      entryPoint: "attn_fwd64",
      inputs: [q.res, { texture: tk }, { texture: tv }, maskRes],
      outputs: [out.res, stats.res],
      params: _params(g, mask !== null, p, seed, b0),
      workgroups: [xGroups, bc * g.h],
      constants,
    }, ["gq"]);
  }
  return record(out, "attention", [q, k, v], (gradOut) => {
    const dq = Tensor.empty(q.shape, "f32", "attention.dq");
    const dk = Tensor.empty(q.shape, "f32", "attention.dk");
    const dv = Tensor.empty(q.shape, "f32", "attention.dv");
    for (let b0 = 0; b0 < g.b; b0 += chunk) {
      const bc = Math.min(chunk, g.b - b0);
      const params = _params(g, mask !== null, p, seed, b0);
      const st = _texture("S", g.t, bc * g.h, false);
      const tk = _stage(k, "A", g, b0, bc);
      const tv = _stage(v, "B", g, b0, bc);
      dispatchStaged({
        label: `attention.attn_bwd_dq64${tag}`,
        code,
        entryPoint: "attn_bwd_dq64",
        inputs: [q.res, { texture: tk }, { texture: tv }, maskRes, gradOut.res, out.res, stats.res],
        outputs: [dq.res, { texture: st }],
        params,
        workgroups: [xGroups, bc * g.h],
        constants,
      }, ["hq", null, null, null, "hdout", "hout", "hstats"]);
      const tq = _stage(q, "A", g, b0, bc);
      const tg = _stage(gradOut, "B", g, b0, bc);
      dispatchStaged({
        label: `attention.attn_bwd_dkv64${tag}`,
        code,
        entryPoint: "attn_bwd_dkv64",
        inputs: [{ texture: tq }, k.res, v.res, maskRes, { texture: tg }, { texture: st }],
        outputs: [dk.res, dv.res],
        params,
        workgroups: [xGroups, bc * g.h],
        constants,
      }, [null, "ik", "iv"]);
    }
    return [dq, dk, dv];
  }, [stats]);
}

function _attentionGeneric(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  mask: Tensor | null,
  g: _Geom,
  p: number,
  seed: number,
): Tensor {
  const padded = g.d % 4 !== 0;
  const qp = padded ? _pad(q, g, "attention.q_pad") : q;
  const kp = padded ? _pad(k, g, "attention.k_pad") : k;
  const vp = padded ? _pad(v, g, "attention.v_pad") : v;
  const params = _params(g, mask !== null, p, seed, 0);
  const constants = { WG: _WG };
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
