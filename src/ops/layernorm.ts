/**
 * LayerNorm over the last dimension (PyTorch `nn.LayerNorm` semantics: biased variance, eps inside the
 * square root) with its backward rule, and the residual add fused into it ({@link addLayerNorm}, the
 * `LayerNorm(hidden + input)` of every BERT-style layer). Kernels: `kernels/layernorm.wgsl`.
 * @module
 */
import lnSrc from "../../kernels/layernorm.wgsl" with { type: "text" };
import { f32, gpu, type ParamValue, type Resource, splitGrid } from "../engine/gpu.ts";
import { needsGrad, record } from "../engine/tape.ts";
import { dispatchStaged, stagesInput } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";
import { dropout, dropoutParams, type DropoutSpec } from "./dropout.ts";
import { RNG_WGSL } from "./rng.ts";

const src = `${RNG_WGSL}\n${lnSrc}`; // the fused dropout of the add_ kernels draws kernels/rng.wgsl's mask

const _MAX_BLOCKS = 128; // row blocks of backward_dx (column partial sums per block)
const _MAX_ROW_BLOCKS = 60000; // rows of the rows-path backward (one block per row; see layernorm.wgsl)

/** Binds a tensor rounded up to whole vec4s (pool buffers are 256-byte multiples, so this stays inside). */
function _res4(t: Tensor): Resource {
  return { buffer: t.buffer, size: Math.max(16, Math.ceil(t.byteLength / 16) * 16) };
}

let _wgOverride: number | null = null;

/**
 * Overrides the workgroup size of the LayerNorm kernels (a power of two, 1..256), or restores the default
 * with `null`: 8 on CPU adapters (measured fastest on lavapipe), 64 on GPUs. For tests and tuning.
 */
export function setLayerNormWorkgroupSize(n: number | null): void {
  if (n !== null && !(Number.isInteger(n) && n >= 1 && n <= 256 && (n & (n - 1)) === 0)) {
    throw new RangeError(`setLayerNormWorkgroupSize: ${n} is not a power of two in [1, 256]`);
  }
  _wgOverride = n;
}

function _wg(): number {
  return _wgOverride ?? (gpu().adapterInfo.isFallbackAdapter ? 8 : 64);
}

/** How the kernels map rows to invocations ({@link setLayerNormPath}). */
export type LayerNormPath = "auto" | "rows" | "workgroup";

let _path: LayerNormPath = "auto";

/**
 * Chooses the kernels, forward and backward: "workgroup" (one workgroup per row or block of rows, tree
 * sums in workgroup memory: the GPU path), "rows" (one invocation per row, serial sums, no barriers: the
 * CPU-adapter path; on lavapipe at 1024×128 the forward takes 0.7 instead of 1.0 ms), or "auto" (default:
 * "rows" on CPU/fallback adapters, else "workgroup"). Both compute the same formulas; sums differ only in
 * order.
 */
export function setLayerNormPath(path: LayerNormPath): void {
  if (!["auto", "rows", "workgroup"].includes(path)) {
    throw new RangeError(`setLayerNormPath: '${path}' is not auto, rows or workgroup`);
  }
  _path = path;
}

function _byRow(): boolean {
  return _path === "rows" || (_path === "auto" && gpu().adapterInfo.isFallbackAdapter);
}

/** A rows-path launch over `rows` rows: grid and workgroup size. */
function _rowsLaunch(rows: number) {
  const wg = _wgOverride ?? 64;
  return { workgroups: splitGrid(Math.ceil(rows / wg)), wg };
}

/** The forward dispatch of `rows` rows: entry point/label suffix, grid and workgroup size. */
function _forwardLaunch(rows: number) {
  if (!_byRow()) return { kind: "", workgroups: splitGrid(rows), wg: _wg() };
  return { kind: "_rows", ..._rowsLaunch(rows) };
}

const _NO_DROP: ParamValue[] = [0, 0, f32(0), f32(0)];

function _params(
  rows: number,
  cols: number,
  eps: number,
  blockRows: number,
  nblocks: number,
  drop: ParamValue[] = _NO_DROP,
): ParamValue[] {
  return [rows, cols, f32(eps), blockRows, nblocks, ...drop];
}

/**
 * `y = (x - mean) / sqrt(var + eps) * weight + bias` over the last dimension C of `x` (..., C), with
 * `weight` and `bias` of shape (C). Differentiable in all three; the forward saves the per-row mean and
 * 1/std for the backward, which reduces dweight and dbias over rows deterministically on the GPU.
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  const { C, rows } = _check(x, weight, bias, eps, "layerNorm");
  const y = Tensor.empty(x.shape, "f32", "layernorm.y");
  const mean = Tensor.empty([rows], "f32", "layernorm.mean");
  const rstd = Tensor.empty([rows], "f32", "layernorm.rstd");
  const f = _forwardLaunch(rows);
  dispatchStaged({
    label: `layernorm.forward${f.kind}`,
    code: src,
    entryPoint: `forward${f.kind}${C % 4 === 0 ? "4" : ""}`,
    inputs: [_res4(x), _res4(weight), _res4(bias)],
    outputs: [_res4(y), mean.res, rstd.res],
    params: _params(rows, C, eps, 0, 0),
    workgroups: f.workgroups,
    constants: { WG: f.wg },
  }, ..._staged(x, C % 4 === 0 ? ["f4_x"] : [], ["f4_w", "f4_b"]));
  return record(
    y,
    "layernorm",
    [x, weight, bias],
    (g) => _layerNormBackward(g, x, weight, mean, rstd, eps),
    [mean, rstd],
  );
}

let _fuseDropout = true;

/**
 * Whether {@link addLayerNorm} applies its `drop` inside the add + LayerNorm kernels (`"auto"`, the default,
 * for C % 4 == 0) or through a separate {@link dropout} pass first (`"off"`: the unfused reference, for tests
 * and A/B benches). Both give bitwise the same values.
 */
export function setLayerNormDropoutFusion(mode: "auto" | "off"): void {
  if (mode !== "auto" && mode !== "off") {
    throw new RangeError(`setLayerNormDropoutFusion: '${mode}' is not auto or off`);
  }
  _fuseDropout = mode === "auto";
}

/**
 * `layerNorm(a + b, weight, bias, eps)` in one kernel: the residual add of a BERT-style layer fused into
 * its LayerNorm. `a` and `b` have the same shape (..., C). The kernel writes `a + b` beside `y` for the
 * backward (it is freed at once when no gradient is recorded); the backward writes the one gradient of
 * `a + b` straight into both inputs' gradients (no copy kernels). Bitwise equal to `layerNorm(add(a, b),
 * weight, bias, eps)` forward and backward: the same sums in the same order.
 *
 * With `drop` (training-mode dropout of the sublayer output `a`, as `dropout(a, drop.p, drop.seed)`), it is
 * `layerNorm(dropout(a) + b)`: for C % 4 == 0 the mask is applied inside the same kernels (forward, and
 * the gradient of `a` in the backward; no dropout pass over memory), bitwise equal to calling
 * {@link dropout} first; other widths call it first. `drop.p == 0` is no dropout.
 */
export function addLayerNorm(
  a: Tensor,
  b: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  drop?: DropoutSpec,
): Tensor {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`addLayerNorm: ${a} and ${b} differ in shape`);
  }
  if (b.dtype !== "f32") throw new TypeError(`addLayerNorm: ${b} must be f32`);
  const { C, rows } = _check(a, weight, bias, eps, "addLayerNorm");
  const dropP = drop ? dropoutParams(drop) : null; // validates p and seed
  if (drop && drop.p > 0 && (C % 4 !== 0 || !_fuseDropout)) {
    return addLayerNorm(dropout(a, drop.p, drop.seed), b, weight, bias, eps);
  }
  const dropVals: ParamValue[] = dropP && drop!.p > 0 ? [1, ...dropP] : _NO_DROP;
  const y = Tensor.empty(a.shape, "f32", "layernorm.y");
  const f = _forwardLaunch(rows);
  // Without a backward (inference) the vec4 rows kernel does not store a + b: a placeholder is bound.
  const saveSum = f.kind !== "_rows" || C % 4 !== 0 || needsGrad([a, b, weight, bias]);
  const sum = Tensor.empty(saveSum ? a.shape : [4], "f32", "layernorm.sum"); // (..., C): a + b, the backward's x
  const mean = Tensor.empty([rows], "f32", "layernorm.mean");
  const rstd = Tensor.empty([rows], "f32", "layernorm.rstd");
  dispatchStaged({
    label: `layernorm.add${dropVals === _NO_DROP ? "" : "_dropout"}_forward${f.kind}${
      saveSum ? "" : "_nosum"
    }`,
    code: src,
    entryPoint: `add_forward${f.kind}${C % 4 === 0 ? "4" : ""}`,
    inputs: [_res4(a), _res4(b), _res4(weight), _res4(bias)],
    outputs: [_res4(y), _res4(sum), mean.res, rstd.res],
    params: _params(rows, C, eps, 0, 0, dropVals),
    workgroups: f.workgroups,
    constants: saveSum ? { WG: f.wg } : { WG: f.wg, SAVE_SUM: 0 },
  }, ..._staged(a, C % 4 === 0 ? ["af4_a", "af4_b"] : [], ["af4_w", "af4_bias"]));
  return record(
    y,
    "add_layernorm",
    [a, b, weight, bias],
    (g) => _layerNormBackward(g, sum, weight, mean, rstd, eps, true, dropVals),
    [sum, mean, rstd],
  );
}

let _stageColumns = true;

/**
 * Whether the vec4 kernels also read weight and bias through staged loads when their rows are staged
 * (default true; see `_staged`), or from storage buffers (false: the A/B reference). Same values either way.
 */
export function setLayerNormColumnStaging(on: boolean): void {
  _stageColumns = on;
}

/**
 * The staged-load names of a vec4 launch over `x`'s rows: the row-sized inputs `rows`, and, when those are
 * staged, the per-column inputs `columns` too (weight, bias: below the staging minimum, but every row reads
 * all of them, and on lavapipe a storage-buffer load costs ~15× a texel fetch).
 */
function _staged(
  x: Tensor,
  rows: string[],
  columns: string[],
): [(string | null)[], { anySize?: boolean }] {
  if (rows.length === 0 || !_stageColumns || !stagesInput(x.byteLength)) return [rows, {}];
  return [[...rows, ...columns], { anySize: true }];
}

function _check(x: Tensor, weight: Tensor, bias: Tensor, eps: number, op: string) {
  const C = x.shape[x.shape.length - 1];
  if (x.shape.length === 0 || C === 0) throw new RangeError(`${op}: ${x} has no last dimension`);
  if (weight.size !== C || bias.size !== C) {
    throw new RangeError(`${op}: ${weight} and ${bias} must have ${C} elements to match ${x}`);
  }
  if (x.dtype !== "f32") throw new TypeError(`${op}: ${x} must be f32`);
  if (!(eps >= 0)) throw new RangeError(`${op}: eps must be >= 0, got ${eps}`);
  return { C, rows: x.size / C };
}

/**
 * The LayerNorm backward: [dx, dweight, dbias], or with `dual` (the fused residual add) [dx, dx again in
 * its own buffer, dweight, dbias]; `drop` (add_ vec4 kernels only): the first dx through the fused dropout.
 */
function _layerNormBackward(
  g: Tensor,
  x: Tensor,
  weight: Tensor,
  mean: Tensor,
  rstd: Tensor,
  eps: number,
  dual = false,
  drop: ParamValue[] = _NO_DROP,
): Tensor[] {
  const C = weight.size;
  const rows = x.size / C;
  // Rows path: every row is its own block (its dy·xhat and dy go to `partial`, summed in row order by
  // backward_params, whose loop lavapipe would cut short past 65535 rows: the workgroup path beyond).
  const byRow = _byRow() && rows <= _MAX_ROW_BLOCKS;
  const blockRows = byRow ? 1 : Math.max(1, Math.ceil(rows / _MAX_BLOCKS));
  const nblocks = Math.ceil(rows / blockRows);
  const params = _params(rows, C, eps, blockRows, nblocks, drop);
  const wg = _wg();
  const launch = byRow
    ? { kind: "_rows", ..._rowsLaunch(rows) }
    : { kind: "", workgroups: splitGrid(nblocks), wg };
  const dx = Tensor.empty(x.shape, "f32", "layernorm.dx");
  const dx2 = dual ? Tensor.empty(x.shape, "f32", "layernorm.dx") : null;
  const partial = Tensor.empty([2, nblocks, C], "f32", "layernorm.partial");
  const dw = Tensor.empty([C], "f32", "layernorm.dweight");
  const db = Tensor.empty([C], "f32", "layernorm.dbias");
  const v4 = C % 4 === 0 ? "4" : "";
  dispatchStaged({
    label: `layernorm.${dual ? "add_" : ""}${drop === _NO_DROP ? "" : "dropout_"}backward_dx${launch.kind}`,
    code: src,
    entryPoint: `${dual ? "add_" : ""}backward_dx${launch.kind}${v4}`,
    inputs: [_res4(g), _res4(x), _res4(weight), mean.res, rstd.res],
    outputs: dx2 ? [_res4(dx), _res4(dx2), _res4(partial)] : [_res4(dx), _res4(partial)],
    params,
    workgroups: launch.workgroups,
    constants: { WG: launch.wg },
  }, ..._staged(x, v4 ? (dual ? ["ad4_dy", "ad4_x"] : ["d4_dy", "d4_x"]) : [], [dual ? "ad4_w" : "d4_w"]));
  dispatchStaged({
    label: "layernorm.backward_params",
    code: src,
    entryPoint: `backward_params${v4}`,
    inputs: [_res4(partial)],
    outputs: [_res4(dw), _res4(db)],
    params,
    workgroups: splitGrid(Math.ceil((C % 4 === 0 ? C / 4 : C) / wg)),
    constants: { WG: wg },
  }, v4 ? ["p4_partial"] : []);
  partial.dispose();
  return dx2 ? [dx, dx2, dw, db] : [dx, dw, db];
}
