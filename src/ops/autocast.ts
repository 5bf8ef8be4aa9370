/**
 * Mixed precision as PyTorch's `torch.autocast("cuda", dtype=torch.float16)` under HF's `--fp16`, for this
 * engine: while autocast is on, every matrix product ({@link matmul}/{@link linear} in `./matmul.ts`,
 * forward and the backward products of the ops recorded then) reads its two operands rounded to fp16
 * (round to nearest even; overflow past ±65504 gives ±Inf, as a cast to float16 does) and accumulates
 * and writes in fp32 — the fp16 GEMM with fp32 accumulation of tensor cores. Everything else stays fp32:
 * parameters (fp32 master weights), LayerNorm, softmax, GELU, cross-entropy, the fused attention kernel,
 * AdamW, gradients. Dynamic loss scaling is `src/train/grad_scaler.ts`.
 *
 * How the products get fp16 inputs: the texture path stages A and B into rgba16float textures through
 * pack_tex's fp16 variant (an explicit f16 cast, then the store), the buffer paths (mm_generic,
 * mm_shared) first round copies of their operands with `round_f16` (kernels/autocast.wgsl). Both need
 * the device feature `shader-f16` ({@link requireShaderF16}).
 * @module
 */
import src from "../../kernels/autocast.wgsl" with { type: "text" };
import { gpu, splitGrid } from "../engine/gpu.ts";
import { Tensor } from "../engine/tensor.ts";

let _enabled = false;

/** Thrown when fp16 is asked for on a device without `shader-f16`; its message is one line for the CLI. */
export class Fp16UnavailableError extends Error {
  /** Creates the error naming the adapter. */
  constructor(adapter: string) {
    super(`--fp16 needs a WebGPU adapter with the shader-f16 feature; ${adapter} has none`);
    this.name = "Fp16UnavailableError";
  }
}

/**
 * Throws {@link Fp16UnavailableError} unless `features` (default: the device's) has `shader-f16`;
 * `adapter` names the adapter in the message (default: the device's adapter description).
 */
export function requireShaderF16(
  features: { has(name: string): boolean } = gpu().device.features,
  adapter?: string,
): void {
  if (!features.has("shader-f16")) {
    throw new Fp16UnavailableError(adapter ?? gpu().describe().description);
  }
}

/** Whether autocast is on (matrix products read fp16-rounded operands). */
export function autocastEnabled(): boolean {
  return _enabled;
}

/**
 * Turns autocast on or off for the products encoded from now on (see the module doc). Turning it on
 * checks the device's `shader-f16` feature ({@link requireShaderF16}).
 */
export function setAutocast(on: boolean): void {
  if (on) requireShaderF16();
  _enabled = on;
}

/**
 * Runs `fn` with autocast `on` (default true) and restores the previous setting when `fn` returns, or
 * when its promise settles for an async `fn` (other work started meanwhile sees the setting too). `on`
 * false runs `fn` unchanged in fp32, so a caller can pass a flag.
 */
export function withAutocast<T>(fn: () => T, on = true): T {
  const prev = _enabled;
  setAutocast(on);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    _enabled = prev;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      _enabled = prev;
    }) as T;
  }
  _enabled = prev;
  return result;
}

/**
 * A new f32 tensor holding `x` rounded to the nearest fp16 value (ties to even, ±Inf past ±65504): the
 * cast the buffer matmul paths apply to their operands under autocast. Not differentiable (a staging
 * copy).
 */
export function roundToF16(x: Tensor, name = `${x.name}.f16`): Tensor {
  if (x.dtype !== "f32") throw new TypeError(`roundToF16: ${x} is not f32`);
  const out = Tensor.empty(x.shape, "f32", name);
  if (x.size === 0) return out;
  gpu().dispatch({
    label: "autocast.round_f16",
    code: src,
    entryPoint: "round_f16",
    inputs: [x.res],
    outputs: [out.res],
    params: [x.size, 0, 0, 0],
    workgroups: splitGrid(Math.ceil(x.size / 256)),
  });
  return out;
}
