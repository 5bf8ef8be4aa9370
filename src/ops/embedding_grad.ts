/**
 * The row-sparse weight gradient of a lookup table (the word embeddings): a batch touches a few hundred of
 * the 28996 rows, so instead of a fresh (V, C) gradient cleared whole every step, each table trained by
 * {@link embedding} keeps ONE persistent gradient buffer that is zero outside the rows touched since its
 * last release, plus the lists of those rows (one per backward pass, built on the GPU from the ids:
 * `embedding.claim_rows` / `embedding.select_rows`). Releasing the gradient ({@link releaseRowSparseGrad},
 * called by `AdamW.zeroGrad`) zeroes only the listed rows (`embedding.clear_rows*`), and the clipping norm
 * sums squares over the listed rows only ({@link rowSparseLists}, `adamw.sumsq_rows*`): the rows outside
 * contribute exactly 0, so only the summation order differs from the dense sum.
 *
 * AdamW takes the listed rows too (src/ops/adamw_lazy.ts): torch's dense AdamW moves every row each step
 * (the moments of untouched rows decay, their weights keep moving), so the other rows replay those
 * zero-gradient steps later with the same arithmetic, bitwise equal to the dense update. What stays
 * dense: the fp16 unscale (it keeps zeros zero). Anything that writes the gradient outside the listed rows (the
 * data-parallel all-reduce) calls {@link markRowSparseGradDense}; the next release then clears the buffer
 * whole and the norm runs dense until then.
 *
 * Kernels: `kernels/embedding.wgsl` (row lists, clearing), `kernels/adamw.wgsl` (`sumsq_rows*`).
 * @module
 */
import src from "../../kernels/embedding.wgsl" with { type: "text" };
import { gpu, i32, splitGrid } from "../engine/gpu.ts";
import { Tensor } from "../engine/tensor.ts";

const _WG = 64; // workgroup size of claim_rows / select_rows in kernels/embedding.wgsl
const _CLEAR_CHUNK = 8192; // elements per clear_rows workgroup (256 invocations)

interface _RowState {
  /** The persistent (V_k, C) gradient buffer, or null before the first backward pass. */
  grad: Tensor | null;
  /** True once released: zero everywhere and not any parameter's `.grad`. */
  free: boolean;
  /** The row lists (i32, one entry per token: a table row or −1) added since the last release. */
  lists: Tensor[];
  /** (V_k) u32, 0xFFFFFFFF between calls (claim_rows / select_rows). */
  owner: Tensor;
  /** (V_k) u32, 1 on the listed rows. */
  mark: Tensor;
  /** Written outside the listed rows (all-reduce): clear whole, sum dense. */
  dense: boolean;
}

const _byTable = new WeakMap<Tensor, _RowState>();
const _byGrad = new WeakMap<Tensor, _RowState>();
let _enabled = true;

/**
 * Turns the row-sparse word-embedding gradient on (default) or off (then the embedding backward gives a
 * fresh dense gradient each pass, cleared whole, as before; tests and benches compare the two).
 */
export function setRowSparseGrads(enabled: boolean): void {
  _enabled = enabled;
}

/** Whether the row-sparse gradient path is on ({@link setRowSparseGrads}). */
export function rowSparseGradsEnabled(): boolean {
  return _enabled;
}

function _state(table: Tensor): _RowState {
  let st = _byTable.get(table);
  if (!st) {
    const V = table.shape[0];
    st = {
      grad: null,
      free: false,
      lists: [],
      owner: Tensor.from(new Uint32Array(V).fill(0xFFFFFFFF), [V], "u32", `${table.name}.grad_owner`).keep(),
      mark: Tensor.from(new Uint32Array(V), [V], "u32", `${table.name}.grad_mark`).keep(),
      dense: false,
    };
    _byTable.set(table, st);
  }
  return st;
}

function _dropLists(st: _RowState): void {
  for (const l of st.lists) l.dispose();
  st.lists = [];
}

/**
 * For the embedding backward of `table` (rows row0 … row0 + V_k − 1 of the whole table of `rows` rows;
 * `pad` a global id or −1): the gradient buffer to scatter-add this pass into — already `table.grad`
 * afterwards — with the pass's rows listed; or null when the table takes the dense path: switched off,
 * not a leaf, its `.grad` is a tensor this module did not hand out (then the tape adds a dense gradient as
 * before), or a new gradient of a table with no more rows than the pass has tokens (position and
 * token-type tables: listing rows would not save work there).
 */
export function rowSparseGradFor(
  table: Tensor,
  ids: Tensor,
  row0: number,
  pad: number,
  rows: number,
): Tensor | null {
  if (!_enabled || table.node || !table.requiresGrad) return null;
  if (table.grad === null ? rows <= ids.size : _byGrad.get(table.grad)?.grad !== table.grad) return null;
  const st = _state(table);
  if (table.grad === null) {
    if (st.grad && st.free && !st.grad.disposed) st.free = false; // zero everywhere (released)
    else {
      // First pass, or the last gradient was dropped without a release (disposed, or kept by the caller):
      // a fresh buffer cleared whole; the old lists and marks are void (the old buffer is not touched).
      if (st.lists.length) gpu().encoderForCopy().clearBuffer(st.mark.buffer, 0, st.mark.byteLength);
      _dropLists(st);
      if (st.grad) _byGrad.delete(st.grad);
      st.grad = Tensor.empty([...table.shape], "f32", `${table.name}.grad`).keep();
      gpu().encoderForCopy().clearBuffer(st.grad.buffer, 0, st.grad.byteLength);
      _byGrad.set(st.grad, st);
      st.free = false;
      st.dense = false;
    }
    table.grad = st.grad;
  } else if (table.grad !== st.grad || st.grad.disposed) return null;
  st.free = false;
  const N = ids.size;
  if (N === 0) return st.grad;
  const V = table.shape[0];
  const list = Tensor.empty([N], "i32", `${table.name}.grad_rows`).keep();
  const params = [N, V, i32(pad), row0];
  const workgroups = splitGrid(Math.ceil(N / _WG));
  gpu().dispatch({
    label: "embedding.claim_rows",
    code: src,
    entryPoint: "claim_rows",
    inputs: [ids.res],
    outputs: [st.owner.res],
    params,
    workgroups,
  });
  gpu().dispatch({
    label: "embedding.select_rows",
    code: src,
    entryPoint: "select_rows",
    inputs: [ids.res],
    outputs: [list.res, st.owner.res, st.mark.res],
    params,
    workgroups,
  });
  st.lists.push(list);
  return st.grad;
}

function _clearRows(st: _RowState, list: Tensor): void {
  const grad = st.grad!;
  const C = grad.shape[1];
  const vec4 = C % 4 === 0;
  const cols = vec4 ? C / 4 : C;
  // Workgroups of 256 over ~8192 elements each (at most 1024 of them).
  const wg = Math.min(Math.max(1, Math.ceil(list.size * C / _CLEAR_CHUNK)), 1024);
  const chunk = Math.ceil(list.size / wg);
  gpu().dispatch({
    label: vec4 ? "embedding.clear_rows4" : "embedding.clear_rows",
    code: src,
    entryPoint: vec4 ? "clear_rows4" : "clear_rows",
    inputs: [list.res],
    outputs: [grad.res, st.mark.res],
    params: [list.size, cols, chunk, 0],
    workgroups: [wg],
  });
}

/**
 * `AdamW.zeroGrad` for a row-sparse gradient: when `param.grad` is the buffer handed out by
 * {@link rowSparseGradFor}, zeroes its touched rows (or all of it after {@link markRowSparseGradDense}),
 * keeps it for the next backward pass, sets `param.grad = null` and returns true; otherwise false (the
 * caller disposes the gradient as usual).
 */
export function releaseRowSparseGrad(param: Tensor): boolean {
  const g = param.grad;
  const st = g ? _byGrad.get(g) : undefined;
  if (!g || !st || st.grad !== g || st.free || g.disposed) return false;
  if (st.dense) {
    gpu().encoderForCopy().clearBuffer(g.buffer, 0, g.byteLength);
    gpu().encoderForCopy().clearBuffer(st.mark.buffer, 0, st.mark.byteLength);
    st.dense = false;
  } else for (const l of st.lists) _clearRows(st, l);
  _dropLists(st);
  st.free = true;
  param.grad = null;
  return true;
}

/**
 * The row lists of a row-sparse gradient `grad` (it is zero outside their rows ≥ 0; the rows are
 * distinct across the lists), or null for any other tensor or one marked dense.
 */
export function rowSparseLists(grad: Tensor): readonly Tensor[] | null {
  const st = _byGrad.get(grad);
  if (!st || st.grad !== grad || st.free || st.dense) return null;
  return st.lists;
}

/** Records that `grad` was written outside its listed rows (e.g. averaged over processes). No-op for others. */
export function markRowSparseGradDense(grad: Tensor): void {
  const st = _byGrad.get(grad);
  if (st && st.grad === grad) st.dense = true;
}

/** Releases the bookkeeping of `table` (and its kept gradient buffer unless it is `table.grad`). */
export function disposeRowSparseState(table: Tensor): void {
  const st = _byTable.get(table);
  if (!st) return;
  _dropLists(st);
  st.owner.dispose();
  st.mark.dispose();
  if (st.grad) {
    _byGrad.delete(st.grad);
    if (table.grad !== st.grad) st.grad.dispose();
  }
  _byTable.delete(table);
}
