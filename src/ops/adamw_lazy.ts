/**
 * AdamW on the word embeddings without a dense pass per step, bitwise equal to torch's dense AdamW.
 *
 * torch.optim.AdamW moves every row of a table every step: a row the batch did not touch has a zero
 * gradient, yet its moments decay (`m ← β1·m`, `v ← β2·v`) and its weights keep moving (weight decay and
 * `m / (sqrt(v) + eps)`). On bert-base's 28996×768 table that is 22M elements read and written each step
 * for the few hundred rows a batch touches. Here a table with a row-sparse gradient (embedding_grad.ts) is
 * updated on its listed rows only, and every other row waits: `last[r]` records the step through which row
 * r (and its moments) is current, and the constants of every step go into a table on the GPU. A waiting
 * row's zero-gradient steps are replayed later, in order, by the same update code with the same constants
 * (`adam_update4` in kernels/adamw.wgsl, which `adamw_step4` uses too), so it ends bit for bit where the
 * dense update would have put it:
 *
 * - when the row is touched again (`lazy_rows4` replays, then applies the step's gradient);
 * - before a lookup reads it (`embedding()` calls {@link lookupBinding}: the rows of its ids are replayed);
 * - for all rows, before anything else uses the table or its moments: the optimizer arms
 *   {@link Tensor.setBeforeUse} on the three tensors, so a binding, copy or read (saving a checkpoint,
 *   parity, `moments()`) first runs {@link flushLazyRows}.
 *
 * The replay costs the same arithmetic as the dense update but reads and writes each row once instead of
 * once per step. One difference is unavoidable: if the clipping scale were NaN (a NaN gradient norm),
 * torch's dense update would make every row NaN while the waiting rows here stay finite; the Trainer skips
 * such steps before AdamW runs.
 * @module
 */
import src from "../../kernels/adamw.wgsl" with { type: "text" };
import { f32, gpu, type Resource, splitGrid } from "../engine/gpu.ts";
import { dispatchStaged } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";

/** The constants of one AdamW step, as adamw_step4 receives them (each rounded to f32 on upload). */
export interface StepConstants {
  /** 1 − lr·weight_decay. */
  decay: number;
  /** 1 − β1. */
  w1: number;
  /** β2. */
  beta2: number;
  /** 1 − β2. */
  oneMinusBeta2: number;
  /** lr / (1 − β1^t). */
  stepSize: number;
  /** sqrt(1 − β2^t). */
  bc2Sqrt: number;
  /** eps. */
  eps: number;
}

/** The step constants as the kernels' uniform words (the order of `StepConsts` in kernels/adamw.wgsl). */
export function stepConstantWords(k: StepConstants): { f32: number }[] {
  return [k.decay, k.w1, k.beta2, k.oneMinusBeta2, k.stepSize, k.bc2Sqrt, k.eps, 0].map(f32);
}

interface _Lazy {
  param: Tensor;
  m: Tensor;
  v: Tensor;
  /** (V) u32: the step through which each row is current. */
  last: Tensor;
  /** (V) u32, 0xFFFFFFFF between lookups (lazy_claim / lazy_select). */
  owner: Tensor;
  /** (capacity, 8) f32: the constants of step s at row s. */
  steps: Tensor;
  /** The last step applied (to the listed rows). */
  t: number;
  /** Every row is current through this step. */
  flushed: number;
}

const _WG = 256;
let _maxReplay = 60000;
const _byParam = new WeakMap<Tensor, _Lazy>();
let _enabled = true;

/**
 * Turns the lazy-row AdamW on (default) or off (then a row-sparse table is updated densely every step,
 * as before; tests and benches compare the two).
 */
export function setLazyAdamW(enabled: boolean): void {
  _enabled = enabled;
}

/**
 * The most zero-gradient steps one row may wait (default 60000): a step that would exceed it first brings
 * every row current. Lavapipe ends a shader after 65535 loop iterations in all, and a replay is one loop
 * iteration per step. For tests: a small limit forces those flushes.
 */
export function setLazyReplayLimit(steps: number): void {
  if (!(Number.isInteger(steps) && steps >= 1 && steps <= 60000)) {
    throw new RangeError(`setLazyReplayLimit: ${steps} is not an integer in [1, 60000]`);
  }
  _maxReplay = steps;
}

/** Whether the lazy-row AdamW is on ({@link setLazyAdamW}). */
export function lazyAdamWEnabled(): boolean {
  return _enabled;
}

function _create(param: Tensor, m: Tensor, v: Tensor, current: number): _Lazy {
  const V = param.shape[0];
  const lz: _Lazy = {
    param,
    m,
    v,
    last: Tensor.from(new Uint32Array(V).fill(current), [V], "u32", `${param.name}.adam_last`).keep(),
    owner: Tensor.from(new Uint32Array(V).fill(0xFFFFFFFF), [V], "u32", `${param.name}.adam_owner`).keep(),
    steps: Tensor.empty([Math.max(64, 2 * (current + 1)), 8], "f32", `${param.name}.adam_steps`).keep(),
    t: current,
    flushed: current,
  };
  _byParam.set(param, lz);
  return lz;
}

function _setStep(lz: _Lazy, s: number, k: StepConstants): void {
  if (s >= lz.steps.shape[0]) {
    const grown = Tensor.empty([2 * s, 8], "f32", lz.steps.name).keep();
    gpu().encoderForCopy().copyBufferToBuffer(lz.steps.buffer, 0, grown.buffer, 0, lz.steps.byteLength);
    lz.steps.dispose();
    lz.steps = grown;
  }
  gpu().dispatch({
    label: "adamw.lazy_set_step",
    code: src,
    entryPoint: "lazy_set_step",
    inputs: [],
    outputs: [lz.steps.res],
    params: [s, 0, 0, 0, ...stepConstantWords(k)],
    workgroups: [1],
  });
}

/** lazy_rows4 over a row list (or every row when `list` is null), then lazy_last for the same rows. */
function _rows(lz: _Lazy, list: Tensor | null, t: number, grad: Tensor | null, scale: Tensor | null): void {
  const cols = lz.param.shape[1] / 4;
  const n = list ? list.size : lz.param.shape[0];
  if (n === 0) return;
  const mode = list ? 0 : 1;
  const listRes = (list ?? lz.steps).res; // (mode 1 reads no list: any buffer not written here)
  // The step table is read once per replayed step by every invocation: staged whatever its size.
  dispatchStaged(
    {
      label: "adamw.lazy_rows4",
      code: src,
      entryPoint: "lazy_rows4",
      inputs: [listRes, lz.last.res, lz.steps.res, (grad ?? lz.steps).resDeferred, (scale ?? lz.steps).res],
      outputs: [lz.param.resDeferred, lz.m.resDeferred, lz.v.resDeferred],
      params: [n, cols, 0, mode, grad ? t - 1 : t, grad ? 1 : 0, scale ? 1 : 0, 0],
      workgroups: splitGrid(Math.ceil(n * cols / _WG)),
    },
    [null, null, "l_steps"],
    { anySize: true },
  );
  gpu().dispatch({
    label: "adamw.lazy_last",
    code: src,
    entryPoint: "lazy_last",
    inputs: [listRes],
    outputs: [lz.last.res],
    params: [n, cols, 0, mode, 0, 0, 0, t],
    workgroups: splitGrid(Math.ceil(n / _WG)),
  });
}

function _arm(lz: _Lazy): void {
  const flush = () => flushLazyRows(lz.param);
  lz.param.setBeforeUse(flush);
  lz.m.setBeforeUse(flush);
  lz.v.setBeforeUse(flush);
}

/**
 * Step `t` (this parameter's own count, from 1) of AdamW for a (V, C) table whose gradient `grad` is zero
 * outside the rows in `lists` (distinct rows or −1: embedding_grad.ts's lists), applied to those rows
 * only; the others wait (see the module doc). `k` holds step t's constants, `scale` the optional clipping
 * scale. Returns false, doing nothing, where the lazy path does not apply (switched off, C not a multiple
 * of 4): the caller then runs the dense update.
 */
export function lazyRowsStep(
  param: Tensor,
  m: Tensor,
  v: Tensor,
  grad: Tensor,
  lists: readonly Tensor[],
  t: number,
  k: StepConstants,
  scale: Tensor | null,
): boolean {
  if (!_enabled || param.shape.length !== 2 || param.shape[1] % 4 !== 0) return false;
  let lz = _byParam.get(param);
  if (lz && (lz.t !== t - 1 || lz.m !== m || lz.v !== v)) { // the step count was reset: start over
    dropLazyRows(param);
    lz = undefined;
  }
  lz ??= _create(param, m, v, t - 1);
  if (t - 1 - lz.flushed >= _maxReplay) flushLazyRows(param); // no row waits more than _maxReplay steps
  _setStep(lz, t, k);
  for (const list of lists) _rows(lz, list, t, grad, scale);
  lz.t = t;
  _arm(lz);
  return true;
}

/** Brings every row of `param` (and its moments) current: the replay of all waiting steps. No-op otherwise. */
export function flushLazyRows(param: Tensor): void {
  const lz = _byParam.get(param);
  if (!lz) return;
  for (const x of [lz.param, lz.m, lz.v]) x.setBeforeUse(null);
  if (lz.flushed === lz.t || lz.param.disposed) return;
  _rows(lz, null, lz.t, null, null);
  lz.flushed = lz.t;
}

/** Flushes `param` ({@link flushLazyRows}) and forgets its lazy state (the next step starts over). */
export function dropLazyRows(param: Tensor): void {
  const lz = _byParam.get(param);
  if (!lz) return;
  flushLazyRows(param);
  lz.last.dispose();
  lz.owner.dispose();
  lz.steps.dispose();
  _byParam.delete(param);
}

/**
 * The binding of lookup table `table` (rows row0 … of the whole table) for a lookup of `ids` (i32, global
 * rows): when the table has waiting rows, the rows among the ids are replayed first, so the binding is
 * current where the lookup reads; then no full flush is needed. Padded to 16 bytes (vec4 lookups).
 */
export function lookupBinding(table: Tensor, ids: Tensor, row0: number): Resource {
  const lz = _byParam.get(table);
  const padded = (buffer: GPUBuffer) => ({
    buffer,
    size: Math.max(16, Math.ceil(table.byteLength / 16) * 16),
  });
  if (!lz || lz.flushed === lz.t || !table.hasDeferredUpdate) return padded(table.buffer);
  const N = ids.size;
  if (N > 0) {
    const list = Tensor.empty([N], "i32", `${table.name}.lookup_rows`);
    const params = [N, table.shape[0], row0, 0];
    const workgroups = splitGrid(Math.ceil(N / _WG));
    gpu().dispatch({
      label: "adamw.lazy_claim",
      code: src,
      entryPoint: "lazy_claim",
      inputs: [ids.res],
      outputs: [lz.owner.res],
      params,
      workgroups,
    });
    gpu().dispatch({
      label: "adamw.lazy_select",
      code: src,
      entryPoint: "lazy_select",
      inputs: [ids.res],
      outputs: [lz.owner.res, list.res],
      params,
      workgroups,
    });
    _rows(lz, list, lz.t, null, null);
    list.dispose();
  }
  return padded(table.bufferDeferred);
}
