/**
 * Exact (erf) GELU, HF's `"gelu"` activation, with its backward rule; and the f32 erf it is built on.
 * Kernels: `kernels/gelu.wgsl`.
 * @module
 */
import src from "../../kernels/gelu.wgsl" with { type: "text" };
import { type Resource, splitGrid } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { dispatchStaged } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";

/** Binds a tensor rounded up to whole vec4s (pool buffers are 256-byte multiples, so this stays inside). */
function _res4(t: Tensor): Resource {
  return { buffer: t.buffer, size: Math.max(16, Math.ceil(t.byteLength / 16) * 16) };
}

function _run(entry: string, inputs: Tensor[], out: Tensor): void {
  const n4 = Math.ceil(out.size / 4);
  dispatchStaged({
    label: `gelu.${entry}`,
    code: src,
    entryPoint: entry,
    inputs: inputs.map(_res4),
    outputs: [_res4(out)],
    params: [n4],
    workgroups: splitGrid(Math.ceil(n4 / 256)),
  }, entry === "backward" ? ["dy2", "x2"] : entry === "forward" ? ["x1"] : []);
}

const _MATH_BEGIN = "// ---- GELU math", _MATH_END = "// ---- end of GELU math ----";

/**
 * The WGSL of GELU's math (erf/erfc approximations, `norm_cdf4`) from `kernels/gelu.wgsl`, for kernels that
 * apply GELU in their epilogue (the matmul texture path) and must give gelu.forward's exact values.
 */
export function geluMathWgsl(): string {
  const i = src.indexOf(_MATH_BEGIN), j = src.indexOf(_MATH_END);
  if (i < 0 || j < i) throw new Error("kernels/gelu.wgsl: the GELU math markers are missing");
  return src.slice(i, j);
}

/** `gelu(x)` not recorded on the tape (for fused ops that record their own rule). */
export function geluForward(x: Tensor): Tensor {
  _checkF32(x, "gelu");
  const y = Tensor.empty(x.shape, "f32", "gelu");
  _run("forward", [x], y);
  return y;
}

/** GELU's backward `dy·(Φ(x) + x·φ(x))` not recorded on the tape. */
export function geluBackward(dy: Tensor, x: Tensor): Tensor {
  const dx = Tensor.empty(x.shape, "f32", "gelu.dx");
  _run("backward", [dy, x], dx);
  return dx;
}

function _checkF32(x: Tensor, op: string): void {
  if (x.dtype !== "f32") throw new TypeError(`${op}: ${x} must be f32`);
}

/**
 * `gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2))` elementwise, exact (not the tanh approximation).
 * Differentiable: `dx = dy·(Φ(x) + x·φ(x))`. Saves nothing but `x` for the backward.
 */
export function gelu(x: Tensor): Tensor {
  _checkF32(x, "gelu");
  const y = geluForward(x);
  return record(y, "gelu", [x], (g) => [geluBackward(g, x)]);
}

/**
 * `erf(x)` elementwise with the f32 approximation GELU uses (max abs error ~1e-7 over [-10, 10]; see
 * `kernels/gelu.wgsl`). Not recorded on the tape.
 */
export function erf(x: Tensor): Tensor {
  _checkF32(x, "erf");
  const y = Tensor.empty(x.shape, "f32", "erf");
  _run("erf_eval", [x], y);
  return y;
}
