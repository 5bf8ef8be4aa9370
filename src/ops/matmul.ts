/**
 * Matrix multiplication: batched `matmul` with transposed layouts and a fused bias, `linear` (PyTorch's
 * nn.Linear), and their backward rules. Kernels: `kernels/matmul.wgsl`.
 * @module
 */
import src from "../../kernels/matmul.wgsl" with { type: "text" };
import { gpu } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { Tensor } from "../engine/tensor.ts";
import { sumRows } from "./elementwise.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** `a` is stored as (..., K, M) and used transposed. */
  transA?: boolean;
  /** `b` is stored as (..., N, K) and used transposed. */
  transB?: boolean;
  /** A bias (N) added to every row of the result. */
  bias?: Tensor;
}

/** One GEMM launch: out = op(a) · op(b) (+ bias) per batch entry, or summed over the batch (`reduce`). */
interface _Gemm {
  a: Tensor;
  b: Tensor;
  M: number;
  N: number;
  K: number;
  batch: number;
  /** Elements between batch entries of a / b (0 = shared). */
  strideA: number;
  strideB: number;
  transA: boolean;
  transB: boolean;
  reduce: boolean;
  bias: Tensor | null;
  outShape: number[];
  label: string;
}

/** Which kernel path {@link matmul} and {@link linear} use; see {@link setMatmulPath}. */
export type MatmulPath = "auto" | "texture" | "generic";

let _path: MatmulPath = "auto";
let _texLimit = 0;

/**
 * Selects the GEMM implementation: `"texture"` packs op(A) and op(B) into rgba32float storage textures and
 * runs the register-tiled kernel (the default, `"auto"`, falls back to `"generic"` when a shape cannot be
 * held by textures); `"generic"` always uses the direct buffer kernel. For benchmarks and tests.
 * `textureLimit` overrides the texture side limit (default: the device's maxTextureDimension2D) so tests
 * can exercise the chunking.
 */
export function setMatmulPath(path: MatmulPath, textureLimit = 0): void {
  _path = path;
  _texLimit = textureLimit;
}

/** Runs a GEMM on the GPU and returns its (unrecorded) output. */
function _gemm(g: _Gemm): Tensor {
  const out = Tensor.empty(g.outShape, "f32", g.label);
  if (out.size === 0) return out;
  if (_path === "generic" || !_gemmTex(g, out)) _gemmGeneric(g, out);
  return out;
}

// ---- texture fast path ----------------------------------------------------------------------------------

/** Register tile of one mm_tex invocation and the 8×2 workgroup it runs in (see kernels/matmul.wgsl). */
const _TM = 16, _TN = 12, _WG_M = 2 * _TM, _WG_N = 8 * _TN;

const _textures = new Map<string, GPUTexture>();

/**
 * The staging texture of a role ("A" or "B"), at least w×h texels. One texture per role is reused by every
 * product: packs and reads are ordered within the batch, so a later product may overwrite it. It only grows
 * (after a flush, so no encoded work still refers to the old one).
 */
function _texture(role: string, w: number, h: number): GPUTexture {
  const old = _textures.get(role);
  if (old && old.width >= w && old.height >= h) return old;
  const width = Math.max(w, old?.width ?? 0), height = Math.max(h, old?.height ?? 0);
  if (old) {
    gpu().flush();
    old.destroy();
  }
  const t = gpu().device.createTexture({
    size: [width, height],
    format: "rgba32float",
    usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST,
    label: `matmul.pack${role}`,
  });
  _textures.set(role, t);
  return t;
}

function _roundUp(x: number, m: number): number {
  return Math.ceil(x / m) * m;
}

/** Packs rows [r0, r0 + rows) of op(X) for `zcount` batch entries from `z0` into a K-packed texture. */
function _pack(
  x: Tensor,
  tex: GPUTexture,
  p: {
    rows: number;
    rowsPad: number;
    ktot: number;
    kin: number;
    base: number;
    zStride: number;
    segStride: number;
    sR: number;
    sK: number;
    zcount: number;
  },
): void {
  const kq = Math.ceil(p.ktot / 4);
  gpu().dispatch({
    label: "matmul.pack_tex",
    code: src,
    entryPoint: "pack_tex",
    inputs: [x.res],
    outputs: [{ texture: tex }],
    params: [p.rows, p.rowsPad, p.ktot, p.kin, kq, p.base, p.zStride, p.segStride, p.sR, p.sK, p.zcount, 0],
    workgroups: [Math.ceil(kq / 16), Math.ceil((p.zcount * p.rowsPad) / 16)],
  });
}

/**
 * The texture path: packs op(A) and op(B) (chunked over batch, rows and columns when a texture side would
 * exceed the limit) and runs mm_tex. Returns false when textures cannot hold the shape (K too long).
 */
function _gemmTex(g: _Gemm, out: Tensor): boolean {
  const L = _texLimit || gpu().limits.maxTextureDimension2D;
  const { M, N, K, batch, reduce } = g;
  const ktot = reduce ? batch * K : K;
  const kq = Math.ceil(ktot / 4);
  if (kq > L || kq === 0 || L < _WG_N) return false;
  const Z = reduce ? 1 : batch;
  const sharedA = !reduce && g.strideA === 0, sharedB = !reduce && g.strideB === 0;
  const mChunk = Math.min(M, Math.floor(L / _WG_M) * _WG_M);
  const nChunk = Math.min(N, Math.floor(L / _WG_N) * _WG_N);
  const aRows = _roundUp(mChunk, _TM), bRows = _roundUp(nChunk, _TN);
  const zChunk = Math.max(
    1,
    Math.min(Z, sharedA ? Z : Math.floor(L / aRows), sharedB ? Z : Math.floor(L / bRows)),
  );
  // Strides of op(A) (rows m) and op(B) (rows n) in their stored layouts.
  const aR = g.transA ? 1 : K, aK = g.transA ? M : 1;
  const bR = g.transB ? K : 1, bK = g.transB ? 1 : N;
  for (let z0 = 0; z0 < Z; z0 += zChunk) {
    const zc = Math.min(zChunk, Z - z0);
    for (let m0 = 0; m0 < M; m0 += mChunk) {
      const mc = Math.min(mChunk, M - m0);
      const texA = _texture("A", kq, (sharedA ? 1 : zc) * aRows);
      _pack(g.a, texA, {
        rows: mc,
        rowsPad: aRows,
        ktot,
        kin: K,
        base: (reduce ? 0 : z0 * g.strideA) + m0 * aR,
        zStride: g.strideA,
        segStride: reduce ? g.strideA : 0,
        sR: aR,
        sK: aK,
        zcount: sharedA ? 1 : zc,
      });
      for (let n0 = 0; n0 < N; n0 += nChunk) {
        const nc = Math.min(nChunk, N - n0);
        const texB = _texture("B", kq, (sharedB ? 1 : zc) * bRows);
        _pack(g.b, texB, {
          rows: nc,
          rowsPad: bRows,
          ktot,
          kin: K,
          base: (reduce ? 0 : z0 * g.strideB) + n0 * bR,
          zStride: g.strideB,
          segStride: reduce ? g.strideB : 0,
          sR: bR,
          sK: bK,
          zcount: sharedB ? 1 : zc,
        });
        gpu().dispatch({
          label: "matmul.mm_tex",
          code: src,
          entryPoint: "mm_tex",
          inputs: [{ texture: texA }, { texture: texB }, (g.bias ?? g.a).res],
          outputs: [out.res],
          params: [
            kq,
            mc,
            nc,
            sharedA ? 0 : aRows,
            sharedB ? 0 : bRows,
            N,
            z0 * M * N + m0 * N + n0,
            reduce ? 0 : M * N,
            n0,
            0,
            0,
            0,
          ],
          workgroups: [Math.ceil(nc / _WG_N), Math.ceil(mc / _WG_M), zc],
          constants: { HAS_BIAS: g.bias ? 1 : 0 },
        });
      }
    }
  }
  return true;
}

function _gemmGeneric(g: _Gemm, out: Tensor): void {
  gpu().dispatch({
    label: "matmul.mm_generic",
    code: src,
    entryPoint: "mm_generic",
    inputs: [g.a.res, g.b.res, (g.bias ?? g.a).res],
    outputs: [out.res],
    params: [g.M, g.N, g.K, g.batch, g.strideA, g.strideB, g.reduce ? 1 : 0, 0],
    workgroups: [Math.ceil(g.N / 32), Math.ceil(g.M / 32), g.reduce ? 1 : g.batch],
    constants: { TRANS_A: g.transA ? 1 : 0, TRANS_B: g.transB ? 1 : 0, HAS_BIAS: g.bias ? 1 : 0 },
  });
}

function _prod(dims: readonly number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

/**
 * Matrix product `op(a) · op(b) (+ bias)`, differentiable w.r.t. a, b and bias.
 *
 * `a` is (..., M, K), or (..., K, M) with `transA`; `b` is (..., K, N), or (..., N, K) with `transB`. The
 * leading (batch) dimensions of a and b must be equal, or b must be 2-D (one matrix shared by every batch
 * entry of a). The result is (..., M, N); `bias` (N) is added to every row.
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const transA = opts.transA ?? false, transB = opts.transB ?? false;
  const bias = opts.bias ?? null;
  if (a.shape.length < 2 || b.shape.length < 2) {
    throw new RangeError(`matmul: operands must be at least 2-D, got ${a} and ${b}`);
  }
  const ra = a.shape.length, rb = b.shape.length;
  const M = transA ? a.shape[ra - 1] : a.shape[ra - 2];
  const K = transA ? a.shape[ra - 2] : a.shape[ra - 1];
  const Kb = transB ? b.shape[rb - 1] : b.shape[rb - 2];
  const N = transB ? b.shape[rb - 2] : b.shape[rb - 1];
  const batchDims = a.shape.slice(0, ra - 2);
  const shared = rb === 2;
  if (Kb !== K) {
    throw new RangeError(
      `matmul: inner dimensions differ: ${a}${transA ? "ᵀ" : ""} · ${b}${transB ? "ᵀ" : ""} (${K} vs ${Kb})`,
    );
  }
  if (!shared && (rb !== ra || b.shape.slice(0, rb - 2).some((d, i) => d !== batchDims[i]))) {
    throw new RangeError(`matmul: batch dimensions of ${a} and ${b} differ (b may also be 2-D)`);
  }
  if (bias && (bias.size !== N || bias.shape.length !== 1)) {
    throw new RangeError(`matmul: bias ${bias} must be (${N})`);
  }
  const batch = _prod(batchDims);
  const outShape = [...batchDims, M, N];
  const out = _bmm(a, b, { M, N, K, batch, transA, transB, shared, bias, outShape });
  const inputs = bias ? [a, b, bias] : [a, b];
  return record(out, "matmul", inputs, (g) => {
    const [da, db] = _bmmBackward(g, a, b, { M, N, K, batch, transA, transB, shared });
    return bias ? [da, db, sumRows(g)] : [da, db];
  });
}

interface _Bmm {
  M: number;
  N: number;
  K: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  /** b is one matrix shared by every batch entry of a. */
  shared: boolean;
}

/** Forward of a batched product; a shared b with a non-transposed a folds the batch into M. */
function _bmm(
  a: Tensor,
  b: Tensor,
  s: _Bmm & { bias: Tensor | null; outShape: number[] },
): Tensor {
  const fold = s.shared && !s.transA;
  return _gemm({
    a,
    b,
    M: fold ? s.batch * s.M : s.M,
    N: s.N,
    K: s.K,
    batch: fold ? 1 : s.batch,
    strideA: s.M * s.K,
    strideB: s.shared ? 0 : s.K * s.N,
    transA: s.transA,
    transB: s.transB,
    reduce: false,
    bias: s.bias,
    outShape: s.outShape,
    label: "matmul",
  });
}

/**
 * Gradients of C = op(A)·op(B) from dC = g, using only layout flags (no materialised transposes):
 * dop(A) = g·op(B)ᵀ and dop(B) = op(A)ᵀ·g, written in the stored layouts of A and B. A shared B gets the
 * sum over the batch.
 */
function _bmmBackward(g: Tensor, a: Tensor, b: Tensor, s: _Bmm): [Tensor | null, Tensor | null] {
  const { M, N, K, batch, transA, transB, shared } = s;
  const sA = M * K, sB = shared ? 0 : K * N, sG = M * N;
  let da: Tensor | null = null, db: Tensor | null = null;
  if (a.requiresGrad) {
    if (!transA) {
      // dA (M, K) = g (M, N) · op(B)ᵀ; op(B)ᵀ is B itself when B is stored (N, K).
      const fold = shared;
      da = _gemm({
        a: g,
        b,
        M: fold ? batch * M : M,
        N: K,
        K: N,
        batch: fold ? 1 : batch,
        strideA: sG,
        strideB: sB,
        transA: false,
        transB: !transB,
        reduce: false,
        bias: null,
        outShape: [...a.shape],
        label: "matmul.dA",
      });
    } else {
      // dA (K, M) = op(B) (K, N) · gᵀ (N, M).
      da = _gemm({
        a: b,
        b: g,
        M: K,
        N: M,
        K: N,
        batch,
        strideA: sB,
        strideB: sG,
        transA: transB,
        transB: true,
        reduce: false,
        bias: null,
        outShape: [...a.shape],
        label: "matmul.dA",
      });
    }
  }
  if (b.requiresGrad) {
    const common = { M: 0, N: 0, K: M, batch, reduce: shared, bias: null, outShape: [...b.shape] };
    if (!transB) {
      // dB (K, N) = op(A)ᵀ (K, M) · g (M, N); op(A)ᵀ is A itself when A is stored (K, M).
      db = _gemm({
        ...common,
        a,
        b: g,
        M: K,
        N,
        strideA: sA,
        strideB: sG,
        transA: !transA,
        transB: false,
        label: "matmul.dB",
      });
    } else {
      // dB (N, K) = gᵀ (N, M) · op(A) (M, K).
      db = _gemm({
        ...common,
        a: g,
        b: a,
        M: N,
        N: K,
        strideA: sG,
        strideB: sA,
        transA: true,
        transB: transA,
        label: "matmul.dB",
      });
    }
  }
  return [da, db];
}

/**
 * PyTorch's nn.Linear: `y = x · weightᵀ + bias` with x (..., in), weight (out, in), bias (out) or none;
 * y is (..., out). Differentiable w.r.t. x, weight and bias.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  if (weight.shape.length !== 2) throw new RangeError(`linear: weight ${weight} must be (out, in)`);
  const [outF, inF] = weight.shape;
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== inF) {
    throw new RangeError(`linear: input ${x} must end in ${inF} (weight ${weight})`);
  }
  if (bias && (bias.size !== outF || bias.shape.length !== 1)) {
    throw new RangeError(`linear: bias ${bias} must be (${outF})`);
  }
  const rows = x.size / inF;
  const s: _Bmm = { M: rows, N: outF, K: inF, batch: 1, transA: false, transB: true, shared: true };
  const outShape = [...x.shape.slice(0, -1), outF];
  const out = _bmm(x, weight, { ...s, bias, outShape });
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, "linear", inputs, (g) => {
    const [dx, dw] = _bmmBackward(g, x, weight, s);
    return bias ? [dx, dw, sumRows(g)] : [dx, dw];
  });
}

/** Floating-point operations of a (batched) M×K · K×N product: 2·M·N·K·batch. */
export function matmulFlops(M: number, N: number, K: number, batch = 1): number {
  return 2 * M * N * K * batch;
}
