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

/** Runs a GEMM on the GPU and returns its (unrecorded) output. */
function _gemm(g: _Gemm): Tensor {
  const out = Tensor.empty(g.outShape, "f32", g.label);
  if (out.size === 0) return out;
  _gemmGeneric(g, out);
  return out;
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
