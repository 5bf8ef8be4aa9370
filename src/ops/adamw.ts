/**
 * The AdamW optimizer (torch.optim.AdamW's update as one fused kernel per parameter tensor; a table with a
 * row-sparse gradient, the word embeddings, on its touched rows only, the others caught up later bitwise
 * equal: src/ops/adamw_lazy.ts), the global
 * gradient L2 norm and norm clipping (torch.nn.utils.clip_grad_norm_) computed on the GPU without a
 * readback. Kernels: `kernels/adamw.wgsl`.
 * @module
 */
import src from "../../kernels/adamw.wgsl" with { type: "text" };
import { f32, gpu, splitGrid } from "../engine/gpu.ts";
import { dispatchAllStaged, dispatchStaged, stagesInput } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";
import { zeros } from "./elementwise.ts";
import { dropLazyRows, lazyRowsStep, type StepConstants, stepConstantWords } from "./adamw_lazy.ts";
import {
  adamwMulti,
  multiAdamActive,
  type MultiAdamSlot,
  multiSumsqActive,
  type MultiSumsqSlot,
  sumsqMulti,
} from "./adamw_multi.ts";
import { disposeRowSparseState, releaseRowSparseGrad, rowSparseLists } from "./embedding_grad.ts";

/** One parameter with its decoupled weight decay (0 for biases and LayerNorm weights). */
export interface AdamWParam {
  /** The parameter tensor (f32, updated in place). */
  param: Tensor;
  /** Decoupled weight decay coefficient. */
  weightDecay: number;
}

/** Hyper-parameters of {@link AdamW}. */
export interface AdamWOptions {
  /** Learning rate (a later `step(lr)` overrides it for that step and onwards). */
  lr: number;
  /** Exponential decay rates of the moments (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator (default 1e-8). */
  eps?: number;
}

interface _State {
  param: Tensor;
  weightDecay: number;
  m: Tensor;
  v: Tensor;
  steps: number;
}

/**
 * AdamW exactly as torch.optim.AdamW: decoupled weight decay `p ← p − lr·wd·p`, then
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`, and `p ← p − lr/bc1 · m / (sqrt(v)/sqrt(bc2) + eps)` with
 * bias corrections `bc = 1 − β^t` computed on the host in float64. Like PyTorch, each parameter counts its
 * own steps `t` (a parameter without a gradient is skipped and its count does not advance). The moments
 * are persistent zero-initialised tensors.
 */
export class AdamW {
  /** Current learning rate. */
  lr: number;
  /** β1, β2. */
  readonly betas: [number, number];
  /** Denominator epsilon. */
  readonly eps: number;
  /** Number of {@link step} calls so far. */
  stepCount = 0;
  #states: _State[];
  #byParam = new Map<Tensor, _State>();

  /** Creates the optimizer and its zeroed moment tensors. */
  constructor(params: AdamWParam[], opts: AdamWOptions) {
    this.lr = opts.lr;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.#states = params.map(({ param, weightDecay }) => {
      if (param.dtype !== "f32") throw new TypeError(`AdamW: parameter ${param} is not f32`);
      if (this.#byParam.has(param)) throw new Error(`AdamW: parameter ${param} is given twice`);
      const st: _State = {
        param,
        weightDecay,
        m: zeros(param.shape, `${param.name}.adam_m`).keep(),
        v: zeros(param.shape, `${param.name}.adam_v`).keep(),
        steps: 0,
      };
      this.#byParam.set(param, st);
      return st;
    });
  }

  /**
   * Applies one update to every parameter that has a gradient. `lr` (optional) sets the learning rate
   * from now on (schedules need no recompilation: it is a uniform). `gradScale` is an optional 1-element
   * GPU tensor every gradient is multiplied by inside the kernel (the scale of {@link clipGradNorm}).
   */
  step(lr?: number, gradScale: Tensor | null = null): void {
    if (lr !== undefined) this.lr = lr;
    if (gradScale && gradScale.size !== 1) {
      throw new RangeError(`AdamW.step: gradScale ${gradScale} is not 1 element`);
    }
    this.stepCount++;
    const [b1, b2] = this.betas;
    const multi: MultiAdamSlot[] = [];
    const useMulti = multiAdamActive();
    for (const st of this.#states) {
      const g = st.param.grad;
      if (!g) continue;
      if (g.size !== st.param.size) throw new RangeError(`AdamW: gradient ${g} does not match ${st.param}`);
      st.steps++;
      const bc1 = 1 - b1 ** st.steps;
      const bc2 = 1 - b2 ** st.steps;
      const k: StepConstants = {
        decay: 1 - this.lr * st.weightDecay,
        w1: 1 - b1,
        beta2: b2,
        oneMinusBeta2: 1 - b2,
        stepSize: this.lr / bc1,
        bc2Sqrt: Math.sqrt(bc2),
        eps: this.eps,
      };
      // A row-sparse table (the word embeddings) is updated on its touched rows only; the others catch up
      // later with the same arithmetic (adamw_lazy.ts). Anything else, densely.
      const lists = rowSparseLists(g);
      if (lists && lazyRowsStep(st.param, st.m, st.v, g, lists, st.steps, k, gradScale)) continue;
      dropLazyRows(st.param);
      const vec4 = st.param.size % 4 === 0;
      // Tensors that are not staged share multi-tensor launches (adamw_multi.ts), bitwise the same update.
      if (vec4 && useMulti && !stagesInput(g.byteLength)) {
        multi.push({ param: st.param, grad: g, m: st.m, v: st.v, k });
        continue;
      }
      const n = vec4 ? st.param.size / 4 : st.param.size;
      const [decay, w1, beta2, oneMinusBeta2, stepSize, bc2Sqrt, eps] = stepConstantWords(k);
      const params = [n, gradScale ? 1 : 0, decay, w1, beta2, oneMinusBeta2, stepSize, bc2Sqrt, eps];
      const workgroups = splitGrid(Math.ceil(n / 256));
      // On lavapipe, every operand is read from a texture copy (staged_loads.ts): about 2× faster there.
      if (
        vec4 && dispatchAllStaged({
          label: "adamw.adamw_step4_io",
          code: src,
          entryPoint: "adamw_step4_io",
          inputs: [g.res, st.param.res, st.m.res, st.v.res, (gradScale ?? g).res],
          outputs: [st.param.res, st.m.res, st.v.res],
          params,
          workgroups,
        }, ["ai_grad", "ai_param", "ai_m", "ai_v"])
      ) continue;
      gpu().dispatch({
        label: vec4 ? "adamw.adamw_step4" : "adamw.adamw_step",
        code: src,
        entryPoint: vec4 ? "adamw_step4" : "adamw_step",
        inputs: [g.res, (gradScale ?? g).res],
        outputs: [st.param.res, st.m.res, st.v.res],
        params,
        workgroups,
      });
    }
    adamwMulti(multi, gradScale);
  }

  /** Sets the step count of the optimizer and of every parameter (restoring a checkpoint). */
  setSteps(n: number): void {
    this.stepCount = n;
    for (const st of this.#states) {
      dropLazyRows(st.param); // rows waiting under the old count are brought current first
      st.steps = n;
    }
  }

  /** The first and second moment tensors of parameter `p`. */
  moments(p: Tensor): { m: Tensor; v: Tensor } {
    const st = this.#byParam.get(p);
    if (!st) throw new Error(`AdamW.moments: ${p} is not a parameter of this optimizer`);
    return { m: st.m, v: st.v };
  }

  /**
   * Disposes every parameter's gradient and sets it to null (PyTorch `zero_grad(set_to_none=True)`). A
   * row-sparse word-embedding gradient (embedding_grad.ts) is kept instead, with only its touched rows
   * zeroed, for the next backward pass.
   */
  zeroGrad(): void {
    for (const st of this.#states) {
      if (releaseRowSparseGrad(st.param)) continue;
      st.param.grad?.dispose();
      st.param.grad = null;
    }
  }

  /** Releases the moment tensors (and the kept row-sparse gradient buffers of the parameters). */
  dispose(): void {
    for (const st of this.#states) {
      dropLazyRows(st.param);
      st.m.dispose();
      st.v.dispose();
      disposeRowSparseState(st.param);
    }
  }
}

/**
 * Elements per workgroup of the sum of squares: 8192, or 65536 for a tensor of at least 4 such chunks read
 * through a staged copy (CPU adapters), where each workgroup's reduction through workgroup memory and its
 * barriers cost more than its loads: 65536 took the clipping norm over bert-base layer shapes from 50-52
 * to 25-40 ms per 14.2M parameters (bench/adamw_bench.ts). GPUs keep 8192, for more workgroups, and so do
 * smaller tensors, so that every core still gets work.
 */
function _partialChunk(t: Tensor): number {
  return t.size >= 4 * 65536 && stagesInput(t.byteLength) ? 65536 : 8192;
}
const _MAX_PARTIALS_PER_TENSOR = 1024;

interface _SumsqPlan {
  t: Tensor;
  vec4: boolean;
  n: number;
  wg: number;
  chunk: number;
  /** A row-sparse gradient's row list (then `n` counts its entries and `cols` the columns), or null. */
  rows: Tensor | null;
  cols: number;
}

function _sumSquares(tensors: Tensor[]): { partials: Tensor; count: number } {
  const plan = tensors.flatMap((t): _SumsqPlan[] => {
    if (t.dtype !== "f32") throw new TypeError(`gradNorm: ${t} is not f32`);
    const vec4 = t.size % 4 === 0;
    const lists = rowSparseLists(t);
    if (lists) { // zero outside the listed rows: sum over those only
      const C = t.shape[1], cols = vec4 && C % 4 === 0 ? C / 4 : C;
      return lists.map((rows) => {
        const wg = Math.min(Math.max(1, Math.ceil(rows.size * C / 8192)), _MAX_PARTIALS_PER_TENSOR);
        return { t, vec4: cols !== C, n: rows.size, wg, chunk: Math.ceil(rows.size / wg), rows, cols };
      });
    }
    const n = vec4 ? t.size / 4 : t.size;
    const wg = Math.min(Math.max(1, Math.ceil(t.size / _partialChunk(t))), _MAX_PARTIALS_PER_TENSOR);
    return [{ t, vec4, n, wg, chunk: Math.ceil(n / wg), rows: null, cols: 0 }];
  });
  const count = plan.reduce((s, p) => s + p.wg, 0);
  const partials = Tensor.empty([Math.max(count, 1)], "f32", "adamw.partials");
  let offset = 0;
  // Unstaged vec4 tensors share sumsq_multi4 launches (adamw_multi.ts), each writing its own partials.
  const useMulti = multiSumsqActive();
  const multi: MultiSumsqSlot[] = [];
  for (const { t, vec4, n, wg, chunk, rows, cols } of plan) {
    if (useMulti && vec4 && !rows && !stagesInput(t.byteLength)) {
      multi.push({ t, n, chunk, wg, offset });
      offset += wg;
      continue;
    }
    if (rows) {
      gpu().dispatch({
        label: vec4 ? "adamw.sumsq_rows4" : "adamw.sumsq_rows",
        code: src,
        entryPoint: vec4 ? "sumsq_rows4" : "sumsq_rows",
        inputs: [t.res, rows.res],
        outputs: [partials.res],
        params: [n, cols, chunk, offset],
        workgroups: [wg],
      });
      offset += wg;
      continue;
    }
    dispatchStaged({
      label: vec4 ? "adamw.sumsq_partial4" : "adamw.sumsq_partial",
      code: src,
      entryPoint: vec4 ? "sumsq_partial4" : "sumsq_partial",
      inputs: [t.res],
      outputs: [partials.res],
      params: [n, chunk, offset],
      workgroups: [wg],
    }, [vec4 ? "s4_x" : null]);
    offset += wg;
  }
  sumsqMulti(multi, partials);
  return { partials, count };
}

/**
 * The global L2 norm of all the given tensors (as if concatenated) as a 1-element GPU tensor, by a
 * two-stage reduction (per-tensor partial sums of squares, then one final sum); no readback. A row-sparse
 * word-embedding gradient (embedding_grad.ts) is summed over its touched rows only (`adamw.sumsq_rows*`):
 * the other rows are exactly zero, so only the summation order differs from the dense sum.
 */
export function gradNorm(tensors: Tensor[]): Tensor {
  const { partials, count } = _sumSquares(tensors);
  const norm = Tensor.empty([1], "f32", "adamw.grad_norm");
  gpu().dispatch({
    label: "adamw.norm_finish",
    code: src,
    entryPoint: "norm_finish",
    inputs: [partials.res],
    outputs: [norm.res],
    params: [count, f32(0)],
    workgroups: [1],
  });
  partials.dispose();
  return norm;
}

/**
 * torch.nn.utils.clip_grad_norm_ without a readback: `norm` is the global L2 norm of the gradients of
 * `params` (those with a gradient) and `scale = min(1, maxNorm / (norm + 1e-6))`, both 1-element GPU
 * tensors. The gradients are not modified: pass `scale` to {@link AdamW.step} as `gradScale`.
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): { norm: Tensor; scale: Tensor } {
  const grads = params.map((p) => p.grad).filter((g): g is Tensor => g !== null);
  const { partials, count } = _sumSquares(grads);
  const norm = Tensor.empty([1], "f32", "adamw.grad_norm");
  const scale = Tensor.empty([1], "f32", "adamw.clip_scale");
  gpu().dispatch({
    label: "adamw.clip_finish",
    code: src,
    entryPoint: "clip_finish",
    inputs: [partials.res],
    outputs: [norm.res, scale.res],
    params: [count, f32(maxNorm)],
    workgroups: [1],
  });
  partials.dispose();
  return { norm, scale };
}
