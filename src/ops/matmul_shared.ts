/**
 * The GPU-class matmul path (`"shared"` in {@link setMatmulPath}): the `mm_shared` kernel of
 * `kernels/matmul.wgsl` — 64×64 output tiles per 256-invocation workgroup, a 4×4 register block per
 * invocation, K tiles of 16 staged in workgroup memory, 16-byte loads and stores where the operands'
 * alignment allows. It reads the stored tensors directly (no staging textures, no K limit), so it serves
 * every shape, layout, batch and the batch-summed weight gradients in one launch (more only past
 * maxComputeWorkgroupsPerDimension batch entries).
 *
 * Chosen by `"auto"` on real GPUs; CPU (software) adapters — lavapipe/llvmpipe, SwiftShader, WARP — keep
 * the texture path, where storage-buffer loads and workgroup barriers are costly: on lavapipe (llvmpipe,
 * 2 cores, 256-bit AVX2), `deno run -A bench/matmul_bench.ts --report --path=shared --shape=512x768x768`
 * measured 7.2–7.4 GFLOP/s in A·B, A·Bᵀ, Aᵀ·B against 41–44 for `--path=texture` in the same sitting; here
 * it is for correctness (tests force it), not speed. Not yet measured on a real GPU (bench/gpu_check.sh
 * runs both paths there). Not done: subgroup operations (the device requests `subgroups` where the
 * adapter has it, but this kernel does not use them), double-buffered tiles, 8×8 register blocks.
 * @module
 */
import { MATMUL_WGSL as src } from "./matmul_source.ts";
import { type BufferResource, type Gpu, gpu } from "../engine/gpu.ts";
import type { Tensor } from "../engine/tensor.ts";
import { isCpuAdapter } from "../engine/adapter.ts";

export { type AdapterFacts, isCpuAdapter } from "../engine/adapter.ts";

/** One product for {@link gemmShared}; matmul.ts's launch record (`_Gemm`) satisfies it. */
export interface SharedGemm {
  /** op(A) is (M, K): `a` stored (M, K), or (K, M) when transA; batch entry b at offA + b·strideA. */
  a: Tensor;
  /** op(B) is (K, N): `b` stored (K, N), or (N, K) when transB; batch entry b at offB + b·strideB. */
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
  /** Sum over the batch into one (M, N) output. */
  reduce: boolean;
  /** Bias (N) added to every row, or null. */
  bias: Tensor | null;
  /** Element offsets of the first batch entry of a and b (default 0). */
  offA?: number;
  offB?: number;
}

/** Output tile of one mm_shared workgroup (rows and columns of C). */
export const SHARED_TILE = 64;

let _decided: { gpu: Gpu; shared: boolean } | null = null;

/** Whether the `"auto"` path uses mm_shared on the current device (true unless it is a CPU adapter). */
export function autoUsesShared(): boolean {
  const g = gpu();
  if (_decided?.gpu !== g) _decided = { gpu: g, shared: !isCpuAdapter(g.adapterInfo) };
  return _decided.shared;
}

/** A binding of a tensor's data rounded up to whole vec4s (pool buffers are 256-byte multiples). */
function _res4(t: Tensor, what: string): BufferResource {
  const size = Math.max(16, Math.ceil(t.byteLength / 16) * 16);
  if (size > t.buffer.size) {
    throw new Error(
      `matmul.mm_shared: internal error: ${what} buffer holds no whole vec4s (${t.buffer.size} B)`,
    );
  }
  return { buffer: t.buffer, size };
}

/**
 * Encodes C = op(A)·op(B) (+ bias) into `out` (batch, M, N), or (M, N) when reduced: mm_shared4 (vec4
 * stores) when N % 4 == 0, else mm_shared; 16-byte operand loads where the layout and alignment allow.
 */
export function gemmShared(g: SharedGemm, out: Tensor): void {
  const { M, N, K, batch } = g;
  const offA = g.offA ?? 0, offB = g.offB ?? 0;
  // 16-byte runs need every run start to be a multiple of 4 elements: the stored row length, the batch
  // stride and the offset (a run never crosses a row end then). B (N, K) is staged by columns (no runs).
  const rowA = g.transA ? M : K;
  const vecA = rowA % 4 === 0 && g.strideA % 4 === 0 && offA % 4 === 0;
  const vecB = !g.transB && N % 4 === 0 && g.strideB % 4 === 0 && offB % 4 === 0;
  const entryPoint = N % 4 === 0 ? "mm_shared4" : "mm_shared";
  const Z = g.reduce ? 1 : batch;
  const maxZ = gpu().limits.maxComputeWorkgroupsPerDimension;
  const constants = {
    TRANS_A: g.transA ? 1 : 0,
    TRANS_B: g.transB ? 1 : 0,
    VEC_A: vecA ? 1 : 0,
    VEC_B: vecB ? 1 : 0,
  };
  const inputs = [_res4(g.a, "A"), _res4(g.b, "B"), (g.bias ?? g.a).res];
  const outputs = [entryPoint === "mm_shared4" ? _res4(out, "C") : out.res];
  for (let z0 = 0; z0 < Z; z0 += maxZ) {
    const zc = Math.min(maxZ, Z - z0);
    gpu().dispatch({
      label: `matmul.${entryPoint}`,
      code: src,
      entryPoint,
      inputs,
      outputs,
      params: [M, N, K, batch, g.strideA, g.strideB, offA, offB, g.reduce ? 1 : 0, g.bias ? 1 : 0, z0, 0],
      workgroups: [Math.ceil(N / SHARED_TILE), Math.ceil(M / SHARED_TILE), zc],
      constants,
      flops: 2 * M * N * K * (g.reduce ? batch : zc),
    });
  }
}
