/**
 * Multi-tensor AdamW and sum of squares (torch's `foreach` kernels): up to {@link ADAM_SLOTS} parameters
 * per `adamw_multi4` launch and {@link SUMSQ_SLOTS} gradients per `sumsq_multi4` launch instead of one
 * launch each, bitwise equal to the per-tensor kernels (kernels/adamw.wgsl). Used by {@link AdamW} and the
 * clipping norm in src/ops/adamw.ts for the vec4 tensors that are not staged through textures (on lavapipe:
 * the small ones, biases and LayerNorm weights; on other adapters: all of them). The AdamW launch needs 25
 * storage buffers per shader stage (the adapter's limit; lavapipe has 32): with fewer, every parameter
 * keeps its own launch. The sum of squares needs 8, which every WebGPU device has.
 * @module
 */
import src from "../../kernels/adamw.wgsl" with { type: "text" };
import { f32, gpu, type ParamValue, splitGrid } from "../engine/gpu.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { StepConstants } from "./adamw_lazy.ts";

/** Parameters per `adamw_multi4` launch. */
export const ADAM_SLOTS = 6;
/** Tensors per `sumsq_multi4` launch. */
export const SUMSQ_SLOTS = 7;
const _ADAM_BUFFERS = 4 * ADAM_SLOTS + 1;

let _enabled = true;

/**
 * Turns the multi-tensor launches on (default) or off (every tensor gets its own `adamw_step4` /
 * `sumsq_partial4` launch, as before; the results are bitwise the same). For tests and A/B benches.
 */
export function setMultiTensorAdamW(enabled: boolean): void {
  _enabled = enabled;
}

/** Whether AdamW batches parameters into `adamw_multi4` launches on this device (25 storage buffers). */
export function multiAdamActive(): boolean {
  return _enabled && gpu().limits.maxStorageBuffersPerShaderStage >= _ADAM_BUFFERS;
}

/** Whether the gradient norm batches tensors into `sumsq_multi4` launches (8 storage buffers: always). */
export function multiSumsqActive(): boolean {
  return _enabled && gpu().limits.maxStorageBuffersPerShaderStage >= SUMSQ_SLOTS + 1;
}

/** One parameter's update in an `adamw_multi4` launch (its tensors are vec4-sized and distinct). */
export interface MultiAdamSlot {
  /** The parameter (updated in place). */
  param: Tensor;
  /** Its gradient. */
  grad: Tensor;
  /** First moment (in place). */
  m: Tensor;
  /** Second moment (in place). */
  v: Tensor;
  /** This step's constants for this parameter. */
  k: StepConstants;
}

let _dummies: { device: GPUDevice; read: GPUBuffer; write: GPUBuffer } | null = null;

/** 16-byte buffers bound by unused slots (never read or written: their slots have no elements). */
function _dummy(kind: "read" | "write"): { buffer: GPUBuffer; size: number } {
  const device = gpu().device;
  if (_dummies?.device !== device) {
    const make = (label: string) => device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE, label });
    _dummies = { device, read: make("adamw.multi_dummy_read"), write: make("adamw.multi_dummy_write") };
  }
  return { buffer: _dummies[kind], size: 16 };
}

/**
 * Updates every parameter of `slots` as `adamw_step4` would, {@link ADAM_SLOTS} per launch. `gradScale`:
 * an optional 1-element tensor every gradient is multiplied by (the clipping scale).
 */
export function adamwMulti(slots: MultiAdamSlot[], gradScale: Tensor | null): void {
  for (let s0 = 0; s0 < slots.length; s0 += ADAM_SLOTS) {
    const group = slots.slice(s0, s0 + ADAM_SLOTS);
    const wgs = group.map((s) => Math.ceil(s.param.size / 4 / 256));
    const total = wgs.reduce((a, b) => a + b, 0);
    const k0 = group[0].k;
    const params: ParamValue[] = [gradScale ? 1 : 0, f32(k0.w1), f32(k0.beta2), f32(k0.oneMinusBeta2)];
    params.push(f32(k0.eps), 0, 0, 0);
    let wg0 = 0;
    for (let i = 0; i < ADAM_SLOTS; i++) {
      const s = group[i];
      if (s) {
        if (s.k.w1 !== k0.w1 || s.k.beta2 !== k0.beta2 || s.k.eps !== k0.eps) {
          throw new Error("adamwMulti: the slots of one launch must share betas and eps");
        }
        params.push(s.param.size / 4, wg0, f32(s.k.decay), f32(s.k.stepSize), f32(s.k.bc2Sqrt), 0, 0, 0);
        wg0 += wgs[i];
      } else params.push(0, total, f32(1), f32(0), f32(1), 0, 0, 0);
    }
    const pick = (i: number, t: (s: MultiAdamSlot) => Tensor, kind: "read" | "write") =>
      group[i] ? t(group[i]).res : _dummy(kind);
    const inputs = Array.from({ length: ADAM_SLOTS }, (_, i) => pick(i, (s) => s.grad, "read"));
    inputs.push((gradScale ?? group[0].grad).res);
    const outputs = Array.from({ length: ADAM_SLOTS }, (_, i) => [
      pick(i, (s) => s.param, "write"),
      pick(i, (s) => s.m, "write"),
      pick(i, (s) => s.v, "write"),
    ]).flat();
    gpu().dispatch({
      label: "adamw.adamw_multi4",
      code: src,
      entryPoint: "adamw_multi4",
      inputs,
      outputs,
      params,
      workgroups: splitGrid(total),
    });
  }
}

/** One tensor's share of a `sumsq_multi4` launch: `wg` workgroups of `chunk` vec4s over its `n` vec4s. */
export interface MultiSumsqSlot {
  /** The tensor (vec4-sized). */
  t: Tensor;
  /** Its vec4s. */
  n: number;
  /** Vec4s per workgroup. */
  chunk: number;
  /** Workgroups (= partial sums) it gets. */
  wg: number;
  /** Its first slot in `partials`. */
  offset: number;
}

/**
 * Writes the partial sums of squares of every slot's tensor into `partials[offset ..]` exactly as
 * `sumsq_partial4` would write them for that tensor alone, {@link SUMSQ_SLOTS} tensors per launch.
 */
export function sumsqMulti(slots: MultiSumsqSlot[], partials: Tensor): void {
  for (let s0 = 0; s0 < slots.length; s0 += SUMSQ_SLOTS) {
    const group = slots.slice(s0, s0 + SUMSQ_SLOTS);
    const total = group.reduce((a, s) => a + s.wg, 0);
    const params: ParamValue[] = [total, 0, 0, 0];
    let wg0 = 0;
    for (let i = 0; i < SUMSQ_SLOTS; i++) {
      const s = group[i];
      params.push(s ? s.n : 0, s ? s.chunk : 1, s ? wg0 : total, s ? s.offset : 0);
      if (s) wg0 += s.wg;
    }
    gpu().dispatch({
      label: "adamw.sumsq_multi4",
      code: src,
      entryPoint: "sumsq_multi4",
      inputs: Array.from({ length: SUMSQ_SLOTS }, (_, i) => group[i] ? group[i].t.res : _dummy("read")),
      outputs: [partials.res],
      params,
      workgroups: splitGrid(total),
    });
  }
}
