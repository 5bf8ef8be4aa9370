/**
 * BERT self-attention with the query, key and value projections as one `[3h, h]` product: the three HF
 * parameters (`attention.self.query/key/value.weight` and `.bias`, unchanged names in checkpoints) are
 * stacked into one weight for the forward product, its (B, T, 3h) output is split into the three inputs of
 * `attention`, and the backward runs one product for the input gradient (K = 3h instead of three products
 * and two accumulations), one for the stacked weight gradient and one bias column sum, split back into the
 * six parameter gradients.
 *
 * Exactness: the forward and the parameter gradients are the unfused ones bit for bit (each output element is
 * the same dot product in the same order); the input gradient sums 3h terms in one product instead of three
 * products of h plus two additions, so it differs in rounding only (tests/model/fused_qkv_test.ts).
 *
 * Measured on lavapipe (this machine): a 1024×128·128×384 product runs at ~33 GFLOP/s where the three
 * 1024×128·128×128 ones run at ~20 (the demo model's shapes); at bert-base's width the fusion does not pay
 * (see {@link FUSED_QKV_MAX_WIDTH}), so it is used by width.
 * @module
 */
import { attention, type AttentionOptions } from "../ops/attention.ts";
import { autocastEnabled } from "../ops/autocast.ts";
import { concatCols3, splitCols3, sumRows } from "../ops/elementwise.ts";
import { linear, matmul } from "../ops/matmul.ts";
import { gpu } from "../engine/gpu.ts";
import { backward, needsGrad, noGrad, record } from "../engine/tape.ts";
import { Tensor } from "../engine/tensor.ts";

/** A projection's weight (out, in) and bias (out). */
export type Projection = [weight: Tensor, bias: Tensor];

/**
 * Widths up to which `"auto"` fuses. Measured on lavapipe, same sitting, fused vs three products: the demo
 * model (h = 128, 32×32 tokens) trains 8% faster per forward + backward (126–143 vs 146–156 ms); bert-base
 * (h = 768) is 1–2% slower (inference 32×64: 7.60 vs 7.50 s; forward + backward 23.4 vs 23.1 s), since its
 * three products already run at full speed and the stacking and split passes only add memory traffic.
 */
export const FUSED_QKV_MAX_WIDTH = 384;

let _mode: boolean | "auto" = "auto";

/**
 * Whether Q/K/V run as one product: `"auto"` (default) when the width h ≤ {@link FUSED_QKV_MAX_WIDTH},
 * `true` always, `false` never (three `linear`s; tests compare both).
 */
export function setFusedQkv(mode: boolean | "auto"): void {
  _mode = mode;
}

/** The {@link setFusedQkv} setting. */
export function fusedQkvMode(): boolean | "auto" {
  return _mode;
}

/**
 * `attention(linear(x, q), linear(x, k), linear(x, v), mask, numHeads, opts)` with the three projections
 * as one product. Three `linear`s instead when fusion is off (or `"auto"` and h is over
 * {@link FUSED_QKV_MAX_WIDTH}), under fp16 autocast (whose products record their own fp16 backward), or
 * when the output width is not a multiple of 4.
 */
export function qkvAttention(
  x: Tensor,
  q: Projection,
  k: Projection,
  v: Projection,
  mask: Tensor | null,
  numHeads: number,
  opts: AttentionOptions = {},
): Tensor {
  const [wq, bq] = q, [wk, bk] = k, [wv, bv] = v;
  const [h, inF] = wq.shape;
  const same = [wk, wv].every((w) => w.shape[0] === h && w.shape[1] === inF);
  const wanted = _mode === "auto" ? h <= FUSED_QKV_MAX_WIDTH : _mode;
  if (!wanted || autocastEnabled() || h % 4 !== 0 || !same) {
    return attention(linear(x, wq, bq), linear(x, wk, bk), linear(x, wv, bv), mask, numHeads, opts);
  }
  const wcat = _stackRows([wq, wk, wv], [3 * h, inF], "attention.self.qkv.weight");
  const bcat = _stackRows([bq, bk, bv], [3 * h], "attention.self.qkv.bias");
  const y = noGrad(() => matmul(x, wcat, { transB: true, bias: bcat })); // (B, T, 3h)
  const [qt, kt, vt] = splitCols3(y, ["attention.q", "attention.k", "attention.v"]);
  y.dispose();
  const inputs = [x, wq, bq, wk, bk, wv, bv];
  if (!needsGrad(inputs)) {
    wcat.dispose();
    bcat.dispose();
    return attention(qt, kt, vt, mask, numHeads, opts);
  }
  // q, k, v as leaves of an inner graph: the attention rule gives all three gradients at once.
  for (const t of [qt, kt, vt]) t.requiresGrad = true;
  const ctx = attention(qt, kt, vt, mask, numHeads, opts);
  const inner = ctx.node!;
  return record(ctx, "qkv_attention", inputs, (g) => {
    ctx.node = inner;
    backward(ctx, g);
    const leaves = [qt, kt, vt];
    const dy = concatCols3(leaves.map((t) => t.grad!) as [Tensor, Tensor, Tensor], "qkv.grad");
    for (const t of leaves) {
      t.grad!.dispose();
      t.grad = null;
    }
    const rows = x.size / inF;
    const dx = x.requiresGrad ? matmul(dy, wcat) : null; // (..., 3h) · (3h, in)
    const dw = matmul(Tensor.view(dy, [rows, 3 * h]), Tensor.view(x, [rows, inF]), { transA: true });
    const db = sumRows(dy);
    dy.dispose();
    const [dwq, dwk, dwv] = _splitRows(dw, [wq, wk, wv]);
    const [dbq, dbk, dbv] = _splitRows(db, [bq, bk, bv]);
    dw.dispose();
    db.dispose();
    return [dx, dwq, dbq, dwk, dbk, dwv, dbv];
  }, [wcat, bcat]);
}

/** The tensors' data one after another in a new tensor of `shape` (GPU copies). */
function _stackRows(parts: Tensor[], shape: number[], name: string): Tensor {
  const out = Tensor.empty(shape, "f32", name);
  const enc = gpu().encoderForCopy();
  let at = 0;
  for (const p of parts) {
    enc.copyBufferToBuffer(p.buffer, 0, out.buffer, at, p.byteLength);
    at += p.byteLength;
  }
  return out;
}

/** `whole` cut into consecutive pieces shaped like `like` (GPU copies). */
function _splitRows(whole: Tensor, like: Tensor[]): Tensor[] {
  const enc = gpu().encoderForCopy();
  let at = 0;
  return like.map((l) => {
    const out = Tensor.empty(l.shape, "f32", `${l.name}.grad`);
    enc.copyBufferToBuffer(whole.buffer, at, out.buffer, 0, out.byteLength);
    at += out.byteLength;
    return out;
  });
}
