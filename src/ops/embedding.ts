/**
 * Embedding lookup (`nn.Embedding` semantics, including `padding_idx`) with its deterministic scatter-add
 * backward, and host-side id validation. Kernels: `kernels/embedding.wgsl`.
 * @module
 */
import src from "../../kernels/embedding.wgsl" with { type: "text" };
import { gpu, i32, type Resource, splitGrid } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { dispatchStaged } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";
import { rowSparseGradFor } from "./embedding_grad.ts";
import { lookupBinding } from "./adamw_lazy.ts";

const _WG = 64; // workgroup size of every entry point in kernels/embedding.wgsl
/** Tokens one embedding backward launch walks (lavapipe ends a shader after 65535 loop iterations in all). */
let _tokensPerLaunch = 60000;

/** For tests: splits the embedding backward into launches of `n` tokens (default 60000). */
export function setEmbeddingTokensPerLaunch(n: number): void {
  if (!(Number.isInteger(n) && n >= 1 && n <= 60000)) {
    throw new RangeError(`setEmbeddingTokensPerLaunch: ${n} is not in [1, 60000]`);
  }
  _tokensPerLaunch = n;
}

/** Binds a tensor rounded up to whole vec4s (pool buffers are 256-byte multiples, so this stays inside). */
function _res4(t: Tensor): Resource {
  return { buffer: t.buffer, size: Math.max(16, Math.ceil(t.byteLength / 16) * 16) };
}

/**
 * Throws a RangeError naming the first position whose id is outside `[0, vocabSize)` (or not an integer
 * id at all); `what` names the ids in the message (e.g. `"input_ids"`).
 */
export function checkIds(ids: Int32Array, vocabSize: number, what: string): void {
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i];
    if (v < 0 || v >= vocabSize) {
      throw new RangeError(
        `${what}: id ${v} at position ${i} is out of range for a vocabulary of ${vocabSize} (valid: 0..${
          vocabSize - 1
        })`,
      );
    }
  }
}

/**
 * Gathers rows of `weight` (V, C) for integer `ids` (..., i32), giving (..., C). Ids outside [0, V) give
 * zero rows on the GPU (validate on the host with {@link checkIds}). Differentiable in `weight`: the
 * backward scatter-adds d(out) into a (V, C) gradient, deterministically (a fixed summation order), and
 * the row `paddingIdx` (negative values count from the end, as in PyTorch) receives no gradient. The
 * forward still reads the padding row as stored. A trainable leaf table with more rows than `ids` has
 * tokens (the word embeddings) gets a row-sparse gradient: one persistent buffer per table, accumulated
 * into directly, zero outside the rows listed since `AdamW.zeroGrad` last released it (labels
 * `embedding.claim_rows` / `embedding.select_rows`; see `embedding_grad.ts`; `setRowSparseGrads(false)`
 * switches it off).
 *
 * `weight` may also be a list of row chunks (each (V_k, C), rows in order, V = Σ V_k): a table larger
 * than one storage binding stored as several tensors. The result and each chunk's gradient are exactly
 * those of the concatenated table (dispatch labels `embedding.forward_chunk` / `embedding.backward_chunk`,
 * one per chunk); `paddingIdx` counts rows of the whole table.
 */
export function embedding(
  ids: Tensor,
  weight: Tensor | readonly Tensor[],
  paddingIdx: number | null = null,
): Tensor {
  if (ids.dtype !== "i32") throw new TypeError(`embedding: ids ${ids} must be i32`);
  const chunked = Array.isArray(weight);
  const tables: readonly Tensor[] = chunked ? weight : [weight as Tensor];
  if (!tables.length) throw new RangeError("embedding: no weight chunks");
  const C = tables[0].shape[1];
  for (const t of tables) {
    if (t.shape.length !== 2 || t.dtype !== "f32" || t.shape[1] !== C) {
      throw new RangeError(`embedding: weight ${t} must be a 2-D f32 table (V, ${C ?? "C"})`);
    }
  }
  const V = tables.reduce((s, t) => s + t.shape[0], 0);
  let pad = -1;
  if (paddingIdx !== null && paddingIdx !== undefined) {
    if (!Number.isInteger(paddingIdx) || paddingIdx < -V || paddingIdx >= V) {
      throw new RangeError(`embedding: paddingIdx ${paddingIdx} is out of range for ${V} rows`);
    }
    pad = paddingIdx < 0 ? paddingIdx + V : paddingIdx;
  }
  const N = ids.size;
  const vec = C % 4 === 0;
  const kind = chunked ? "_chunk" : "";
  // Per table: its first global row; the first table overwrites every output row, the others only theirs.
  const row0s: number[] = [];
  tables.reduce((r, t) => (row0s.push(r), r + t.shape[0]), 0);
  const paramsOf = (
    k: number,
    n0 = 0,
    n1 = N,
  ) => [n1, C, tables[k].shape[0], i32(pad), row0s[k], k === 0 ? 0 : 1, n0];
  const out = Tensor.empty([...ids.shape, C], "f32", "embedding");
  tables.forEach((t, k) => {
    gpu().dispatch({
      label: `embedding.forward${kind}`,
      code: src,
      entryPoint: vec ? "forward4" : "forward",
      inputs: [ids.res, lookupBinding(t, ids, row0s[k])],
      outputs: [_res4(out)],
      params: paramsOf(k),
      workgroups: splitGrid(Math.ceil((vec ? N * C / 4 : N * C) / _WG)),
    });
  });
  return record(out, "embedding", [ids, ...tables], (g) => {
    const grads = tables.map((t, k) => {
      // A trainable leaf table accumulates straight into its persistent row-sparse gradient (zero outside
      // the rows listed since its last release: see embedding_grad.ts); the tape gets no gradient for it.
      const sparse = rowSparseGradFor(t, ids, row0s[k], pad, V);
      const dw = sparse ?? Tensor.empty([...t.shape], "f32", "embedding.dweight");
      // clearBuffer is ~8× faster than a zeroing kernel on lavapipe (89 MB: 1.4 ms vs 11.7 ms).
      if (!sparse) gpu().encoderForCopy().clearBuffer(dw.buffer, 0, dw.byteLength);
      // Consecutive token ranges of at most _tokensPerLaunch (lavapipe's loop cap; see embedding.wgsl).
      for (let n0 = 0; n0 < N; n0 += _tokensPerLaunch) {
        dispatchStaged({
          label: `embedding.backward${kind}`,
          code: src,
          entryPoint: vec ? "backward4" : "backward",
          inputs: [ids.res, _res4(g)],
          outputs: [_res4(dw)],
          params: paramsOf(k, n0, Math.min(N, n0 + _tokensPerLaunch)),
          workgroups: splitGrid(Math.ceil((vec ? C / 4 : C) / _WG)),
        }, [null, vec ? "b4_dy" : null]);
      }
      return sparse ? null : dw;
    });
    return [null, ...grads];
  });
}
