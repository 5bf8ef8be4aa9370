/**
 * Non-finite detection on the GPU (kernels/finite.wgsl): per-tensor counts of NaN/±Inf elements in one
 * batch of dispatches (one readback for any number of tensors), and a sticky flag that records the first
 * step at which a value (the loss, the gradient norm) was non-finite, with no readback per step. Not
 * differentiable (checks only).
 * @module
 */
import src from "../../kernels/finite.wgsl" with { type: "text" };
import { f32, gpu } from "../engine/gpu.ts";
import { Tensor } from "../engine/tensor.ts";

const _WG = 256;
const _MAX_GROUPS = 1024;

/**
 * Counts the non-finite elements of each f32 tensor: returns a u32 tensor (tensors.length) whose entry i
 * is the count for tensors[i] (read it back with `readAll`).
 */
export function countNonFinite(tensors: readonly Tensor[], name = "nonfinite_counts"): Tensor {
  const counts = Tensor.from(
    new Uint32Array(Math.max(1, tensors.length)),
    [Math.max(1, tensors.length)],
    "u32",
    name,
  );
  countNonFiniteInto(tensors, counts);
  return counts;
}

/** Adds the non-finite count of tensors[i] into `counts[firstSlot + i]` (a u32 tensor); no readback. */
export function countNonFiniteInto(tensors: readonly Tensor[], counts: Tensor, firstSlot = 0): void {
  if (counts.dtype !== "u32" || firstSlot + tensors.length > counts.size) {
    throw new TypeError(`countNonFiniteInto: counts ${counts} must be u32 with ${tensors.length} slots`);
  }
  tensors.forEach((t, i) => {
    if (t.dtype !== "f32") throw new TypeError(`countNonFinite: ${t} is not f32`);
    if (t.size === 0) return;
    gpu().dispatch({
      label: "finite.count_nonfinite",
      code: src,
      entryPoint: "count_nonfinite",
      inputs: [t.res],
      outputs: [counts.res],
      params: [t.size, firstSlot + i, 0, 0],
      workgroups: [Math.min(_MAX_GROUPS, Math.ceil(t.size / _WG))],
    });
  });
}

/** A u32 flag (1) for {@link flagNonFinite}: 0 until a non-finite value is seen. */
export function newNonFiniteFlag(name = "nonfinite_flag"): Tensor {
  return Tensor.from(new Uint32Array(1), [1], "u32", name);
}

/**
 * Records `step` (≥ 1) in `flag` if any element of `values` is non-finite and no earlier step was
 * recorded. Encodes one dispatch; nothing is read back.
 */
export function flagNonFinite(values: Tensor, flag: Tensor, step: number): void {
  if (!(Number.isInteger(step) && step >= 1)) {
    throw new RangeError(`flagNonFinite: step ${step} must be >= 1`);
  }
  if (values.dtype !== "f32" || flag.dtype !== "u32") {
    throw new TypeError("flagNonFinite: f32 values, u32 flag");
  }
  gpu().dispatch({
    label: "finite.flag_nonfinite",
    code: src,
    entryPoint: "flag_nonfinite",
    inputs: [values.res],
    outputs: [flag.res],
    params: [values.size, 0, step, 0],
    workgroups: [1],
  });
}

/**
 * The loss scaler's unscale (torch's `_amp_foreach_non_finite_check_and_unscale_`): multiplies every
 * tensor of `grads` in place by `invScale` and counts, per tensor into `counts[slot]` (a u32 tensor from
 * {@link countNonFinite} or zeroed), the elements that were NaN/±Inf before the multiply. Encodes one
 * dispatch per tensor; nothing is read back.
 */
export function unscaleAndCountNonFinite(
  grads: readonly Tensor[],
  invScale: number,
  counts: Tensor,
  slot = 0,
): void {
  if (counts.dtype !== "u32" || slot >= counts.size) {
    throw new TypeError(`unscaleAndCountNonFinite: counts ${counts} must be u32 with a slot ${slot}`);
  }
  for (const g of grads) {
    if (g.dtype !== "f32") throw new TypeError(`unscaleAndCountNonFinite: ${g} is not f32`);
    if (g.size === 0) continue;
    gpu().dispatch({
      label: "finite.unscale_check",
      code: src,
      entryPoint: "unscale_check",
      inputs: [],
      outputs: [g.res, counts.res],
      params: [g.size, slot, f32(invScale), 0],
      workgroups: [Math.min(_MAX_GROUPS, Math.ceil(g.size / _WG))],
    });
  }
}
