/**
 * Softmax cross-entropy with an ignore index (PyTorch `CrossEntropyLoss(ignore_index=-100)`, mean over
 * the non-ignored rows) with its backward, the host-side label check, and a row softmax for inference.
 * Kernels: `kernels/cross_entropy.wgsl`.
 * @module
 */
import src from "../../kernels/cross_entropy.wgsl" with { type: "text" };
import { gpu, i32, splitGrid } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { Tensor } from "../engine/tensor.ts";

function _rows(logits: Tensor, what: string): { n: number; l: number } {
  if (logits.dtype !== "f32" || logits.shape.length < 1) {
    throw new TypeError(`${what}: logits must be f32 (..., L), got ${logits}`);
  }
  const l = logits.shape[logits.shape.length - 1];
  if (l < 1) throw new RangeError(`${what}: logits ${logits} have no classes`);
  return { n: logits.size / l, l };
}

/**
 * Throws a RangeError naming the first position whose label is neither `ignoreIndex` nor in
 * [0, numLabels). Call it on host label arrays before upload: the kernel never indexes with a bad label
 * but turns the loss into NaN.
 */
export function checkLabels(labels: Int32Array, numLabels: number, ignoreIndex = -100): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== ignoreIndex && (y < 0 || y >= numLabels)) {
      throw new RangeError(
        `label ${y} at position ${i} is out of range: labels must be in [0, ${numLabels}) or ` +
          `${ignoreIndex} (ignored)`,
      );
    }
  }
}

/**
 * Mean softmax cross-entropy of `logits` (N, L) f32 against `labels` (N) i32, skipping rows whose label
 * is `ignoreIndex`: a shape-[1] tensor (differentiable with respect to the logits). With every row ignored
 * the loss and its gradient are 0 (not NaN). A label outside [0, L) that is not ignored makes the loss NaN
 * and gets no gradient (see {@link checkLabels}). Saves the per-row max and log-sum-exp (N, 2) and the count.
 */
export function crossEntropy(logits: Tensor, labels: Tensor, ignoreIndex = -100): Tensor {
  const { n, l } = _rows(logits, "crossEntropy");
  if (labels.dtype !== "i32" || labels.size !== n) {
    throw new RangeError(`crossEntropy: labels must be i32 with ${n} elements, got ${labels}`);
  }
  const rowLoss = Tensor.empty([n], "f32", "cross_entropy.row_loss");
  const stats = Tensor.empty([n, 2], "f32", "cross_entropy.row_stats");
  const params = [n, l, i32(ignoreIndex)];
  gpu().dispatch({
    label: "cross_entropy.ce_rows",
    code: src,
    entryPoint: "ce_rows",
    inputs: [logits.res, labels.res],
    outputs: [rowLoss.res, stats.res],
    params,
    workgroups: splitGrid(Math.ceil(n / 64)),
  });
  const loss = Tensor.empty([1], "f32", "cross_entropy.loss");
  const count = Tensor.empty([1], "f32", "cross_entropy.count");
  gpu().dispatch({
    label: "cross_entropy.ce_mean",
    code: src,
    entryPoint: "ce_mean",
    inputs: [rowLoss.res, labels.res],
    outputs: [loss.res, count.res],
    params,
    workgroups: [1],
  });
  rowLoss.dispose();
  return record(loss, "cross_entropy", [logits, labels], (g) => {
    const dLogits = Tensor.empty(logits.shape, "f32", "cross_entropy.dlogits");
    gpu().dispatch({
      label: "cross_entropy.ce_backward",
      code: src,
      entryPoint: "ce_backward",
      inputs: [logits.res, labels.res, stats.res, count.res, g.res],
      outputs: [dLogits.res],
      params: [n * l, l, i32(ignoreIndex)],
      workgroups: splitGrid(Math.ceil((n * l) / 256)),
    });
    return [dLogits, null];
  }, [stats, count]);
}

/** Softmax over the last dimension of `logits` (..., L): probabilities for inference (not recorded). */
export function softmax(logits: Tensor): Tensor {
  const { n, l } = _rows(logits, "softmax");
  const out = Tensor.empty(logits.shape, "f32", "softmax");
  gpu().dispatch({
    label: "cross_entropy.softmax_rows",
    code: src,
    entryPoint: "softmax_rows",
    inputs: [logits.res],
    outputs: [out.res],
    params: [n, l, i32(0)],
    workgroups: splitGrid(Math.ceil(n / 64)),
  });
  return out;
}
