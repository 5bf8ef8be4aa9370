/**
 * LayerNorm over the last dimension (PyTorch `nn.LayerNorm` semantics: biased variance, eps inside the
 * square root) with its backward rule, and the residual add fused into it ({@link addLayerNorm}, the
 * `LayerNorm(hidden + input)` of every BERT-style layer). Kernels: `kernels/layernorm.wgsl`.
 * @module
 */
import src from "../../kernels/layernorm.wgsl" with { type: "text" };
import { f32, gpu, type Resource, splitGrid } from "../engine/gpu.ts";
import { record } from "../engine/tape.ts";
import { Tensor } from "../engine/tensor.ts";

const _MAX_BLOCKS = 128; // row blocks of backward_dx (column partial sums per block)

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

/** How the forward kernels map rows to invocations ({@link setLayerNormForwardPath}). */
export type LayerNormForwardPath = "auto" | "rows" | "workgroup";

let _forwardPath: LayerNormForwardPath = "auto";

/**
 * Chooses the forward kernels: "workgroup" (one workgroup per row, a tree sum in workgroup memory: the GPU
 * path), "rows" (one invocation per row, serial sums, no barriers: the CPU-adapter path, 2× faster on
 * lavapipe at 1024×128), or "auto" (default: "rows" on CPU/fallback adapters, else "workgroup"). Both give
 * the same formulas; the row sums differ only in order. The backward is the same for both.
 */
export function setLayerNormForwardPath(path: LayerNormForwardPath): void {
  if (!["auto", "rows", "workgroup"].includes(path)) {
    throw new RangeError(`setLayerNormForwardPath: '${path}' is not auto, rows or workgroup`);
  }
  _forwardPath = path;
}

/** The forward dispatch of `rows` rows: entry point suffix, label suffix, grid and workgroup size. */
function _forwardLaunch(rows: number) {
  const byRow = _forwardPath === "rows" ||
    (_forwardPath === "auto" && gpu().adapterInfo.isFallbackAdapter);
  if (!byRow) return { kind: "", workgroups: splitGrid(rows), wg: _wg() };
  const wg = _wgOverride ?? 64;
  return { kind: "_rows", workgroups: splitGrid(Math.ceil(rows / wg)), wg };
}

function _params(rows: number, cols: number, eps: number, blockRows: number, nblocks: number) {
  return [rows, cols, f32(eps), blockRows, nblocks];
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
  gpu().dispatch({
    label: `layernorm.forward${f.kind}`,
    code: src,
    entryPoint: `forward${f.kind}${C % 4 === 0 ? "4" : ""}`,
    inputs: [_res4(x), _res4(weight), _res4(bias)],
    outputs: [_res4(y), mean.res, rstd.res],
    params: _params(rows, C, eps, 0, 0),
    workgroups: f.workgroups,
    constants: { WG: f.wg },
  });
  return record(
    y,
    "layernorm",
    [x, weight, bias],
    (g) => _layerNormBackward(g, x, weight, mean, rstd, eps),
    [mean, rstd],
  );
}

/**
 * `layerNorm(a + b, weight, bias, eps)` in one kernel: the residual add of a BERT-style layer fused into
 * its LayerNorm. `a` and `b` have the same shape (..., C). The kernel writes `a + b` beside `y` for the
 * backward (it is freed at once when no gradient is recorded); the backward writes the one gradient of
 * `a + b` straight into both inputs' gradients (no copy kernels). Bitwise equal to `layerNorm(add(a, b),
 * weight, bias, eps)` forward and backward: the same sums in the same order.
 */
export function addLayerNorm(a: Tensor, b: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`addLayerNorm: ${a} and ${b} differ in shape`);
  }
  if (b.dtype !== "f32") throw new TypeError(`addLayerNorm: ${b} must be f32`);
  const { C, rows } = _check(a, weight, bias, eps, "addLayerNorm");
  const y = Tensor.empty(a.shape, "f32", "layernorm.y");
  const sum = Tensor.empty(a.shape, "f32", "layernorm.sum"); // (..., C): a + b, the backward's x
  const mean = Tensor.empty([rows], "f32", "layernorm.mean");
  const rstd = Tensor.empty([rows], "f32", "layernorm.rstd");
  const f = _forwardLaunch(rows);
  gpu().dispatch({
    label: `layernorm.add_forward${f.kind}`,
    code: src,
    entryPoint: `add_forward${f.kind}${C % 4 === 0 ? "4" : ""}`,
    inputs: [_res4(a), _res4(b), _res4(weight), _res4(bias)],
    outputs: [_res4(y), _res4(sum), mean.res, rstd.res],
    params: _params(rows, C, eps, 0, 0),
    workgroups: f.workgroups,
    constants: { WG: f.wg },
  });
  return record(
    y,
    "add_layernorm",
    [a, b, weight, bias],
    (g) => _layerNormBackward(g, sum, weight, mean, rstd, eps, true),
    [sum, mean, rstd],
  );
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
 * its own buffer, dweight, dbias].
 */
function _layerNormBackward(
  g: Tensor,
  x: Tensor,
  weight: Tensor,
  mean: Tensor,
  rstd: Tensor,
  eps: number,
  dual = false,
): Tensor[] {
  const C = weight.size;
  const rows = x.size / C;
  const blockRows = Math.max(1, Math.ceil(rows / _MAX_BLOCKS));
  const nblocks = Math.ceil(rows / blockRows);
  const params = _params(rows, C, eps, blockRows, nblocks);
  const wg = _wg();
  const dx = Tensor.empty(x.shape, "f32", "layernorm.dx");
  const dx2 = dual ? Tensor.empty(x.shape, "f32", "layernorm.dx") : null;
  const partial = Tensor.empty([2, nblocks, C], "f32", "layernorm.partial");
  const dw = Tensor.empty([C], "f32", "layernorm.dweight");
  const db = Tensor.empty([C], "f32", "layernorm.dbias");
  const v4 = C % 4 === 0 ? "4" : "";
  gpu().dispatch({
    label: dual ? "layernorm.add_backward_dx" : "layernorm.backward_dx",
    code: src,
    entryPoint: `${dual ? "add_" : ""}backward_dx${v4}`,
    inputs: [_res4(g), _res4(x), _res4(weight), mean.res, rstd.res],
    outputs: dx2 ? [_res4(dx), _res4(dx2), _res4(partial)] : [_res4(dx), _res4(partial)],
    params,
    workgroups: splitGrid(nblocks),
    constants: { WG: wg },
  });
  gpu().dispatch({
    label: "layernorm.backward_params",
    code: src,
    entryPoint: `backward_params${v4}`,
    inputs: [_res4(partial)],
    outputs: [_res4(dw), _res4(db)],
    params,
    workgroups: splitGrid(Math.ceil((C % 4 === 0 ? C / 4 : C) / wg)),
    constants: { WG: wg },
  });
  partial.dispose();
  return dx2 ? [dx, dx2, dw, db] : [dx, dw, db];
}
