/**
 * Elementwise ops (fill, copy, add, scale, multiply, bias add) and the bias-gradient row reduction, with
 * their backward rules. Kernels: `kernels/elementwise.wgsl`.
 * @module
 */
import src from "../../kernels/elementwise.wgsl" with { type: "text" };
import { f32, gpu, splitGrid } from "../engine/gpu.ts";
import { noGrad, record } from "../engine/tape.ts";
import { dispatchAllStaged, dispatchStaged } from "../engine/staged_loads.ts";
import { Tensor } from "../engine/tensor.ts";

function _run(
  entry: string,
  inputs: Tensor[],
  out: Tensor,
  n: number,
  extra: { cols?: number; rows?: number; alpha?: number } = {},
) {
  gpu().dispatch({
    label: `elementwise.${entry}`,
    code: src,
    entryPoint: entry,
    inputs: inputs.map((t) => t.res),
    outputs: [out.res],
    params: [n, extra.cols ?? 0, extra.rows ?? 0, f32(extra.alpha ?? 1)],
    workgroups: splitGrid(Math.ceil(n / 256)),
  });
}

function _sameSize(a: Tensor, b: Tensor, op: string): void {
  if (a.size !== b.size) throw new RangeError(`${op}: ${a} and ${b} differ in size`);
}

/** A new f32 tensor of `shape` filled with `value`. */
export function fill(shape: readonly number[], value: number, name = "fill"): Tensor {
  const out = Tensor.empty(shape, "f32", name);
  _run("fill", [], out, out.size, { alpha: value });
  return out;
}

/** A new f32 tensor of zeros. */
export function zeros(shape: readonly number[], name = "zeros"): Tensor {
  return fill(shape, 0, name);
}

/** Sets every element of an existing f32 tensor to `value` (not recorded). */
export function fillInPlace(t: Tensor, value: number): void {
  _run("fill", [], t, t.size, { alpha: value });
}

/** `a * alpha` (differentiable). */
export function scale(a: Tensor, alpha: number): Tensor {
  const out = Tensor.empty(a.shape, "f32", "scale");
  _run("scale", [a], out, a.size, { alpha });
  return record(out, "scale", [a], (g) => [scale(g, alpha)]);
}

/** A copy of `a`, optionally with another shape of the same size (not recorded). Any 4-byte dtype. */
export function copy(a: Tensor, shape: readonly number[] = a.shape): Tensor {
  const out = Tensor.empty(shape, a.dtype, `${a.name}.copy`);
  if (out.size !== a.size) throw new RangeError(`copy: ${a} cannot take shape [${shape}]`);
  gpu().encoderForCopy().copyBufferToBuffer(a.buffer, 0, out.buffer, 0, a.byteLength);
  return out;
}

/** The vec4 spec of an elementwise entry point over `n` floats (n % 4 == 0). */
function _spec4(entry: string, inputs: Tensor[], out: Tensor, n: number, alpha: number) {
  return {
    label: `elementwise.${entry}`,
    code: src,
    entryPoint: entry,
    inputs: inputs.map((t) => t.res),
    outputs: [out.res],
    params: [n / 4, 0, 0, f32(alpha)],
    workgroups: splitGrid(Math.ceil(n / 4 / 256)),
  };
}

/** `dst += alpha * src` in place (not recorded; used for gradient accumulation). */
export function addInPlace(dst: Tensor, src: Tensor, alpha = 1): void {
  _sameSize(dst, src, "addInPlace");
  // On lavapipe both operands are read from staged copies (accumulate4_io); otherwise, or where they
  // cannot be staged, the in-place kernel. The same sums either way.
  if (dst.size % 4 === 0) {
    const spec = _spec4("accumulate4_io", [dst, src], dst, dst.size, alpha);
    if (dispatchAllStaged(spec, ["ea_old", "ea_a"])) return;
  }
  _run("accumulate", [src], dst, dst.size, { alpha });
}

/** `a + b`, same shapes (differentiable; the residual connection). */
export function add(a: Tensor, b: Tensor): Tensor {
  _sameSize(a, b, "add");
  const out = Tensor.empty(a.shape, "f32", "add");
  if (a.size % 4 === 0) dispatchStaged(_spec4("add4", [a, b], out, a.size, 1), ["e2_a", "e2_b"]);
  else _run("add", [a, b], out, a.size);
  return record(out, "add", [a, b], (g) => [g, g]);
}

/** `a - b`, same shapes (not recorded). */
export function sub(a: Tensor, b: Tensor): Tensor {
  _sameSize(a, b, "sub");
  const out = Tensor.empty(a.shape, "f32", "sub");
  _run("add", [a, b], out, a.size, { alpha: -1 });
  return out;
}

/** Elementwise `a * b` (differentiable). */
export function mul(a: Tensor, b: Tensor): Tensor {
  _sameSize(a, b, "mul");
  const out = Tensor.empty(a.shape, "f32", "mul");
  _run("mul", [a, b], out, a.size);
  return record(out, "mul", [a, b], (g) => [mul(g, b), mul(g, a)]);
}

/** `x + bias` broadcast over rows: x (..., C), bias (C) (differentiable). */
export function biasAdd(x: Tensor, bias: Tensor): Tensor {
  const cols = bias.size;
  if (x.shape[x.shape.length - 1] !== cols) throw new RangeError(`biasAdd: ${x} does not end in ${cols}`);
  const out = Tensor.empty(x.shape, "f32", "bias_add");
  _run("bias_add", [x, bias], out, x.size, { cols });
  return record(out, "bias_add", [x, bias], (g) => [g, sumRows(g)]);
}

/** Column sums of x viewed as (rows, C) with C its last dimension: the bias gradient (not recorded). */
export function sumRows(x: Tensor): Tensor {
  const cols = x.shape[x.shape.length - 1];
  const rows = x.size / cols;
  if (cols % 4 !== 0 && rows > _SUM_ROWS_PER_LAUNCH) return _sumRowsChunked(x, cols, rows);
  const out = Tensor.empty([cols], "f32", "sum_rows");
  if (cols % 4 === 0 && rows > 0) _sumRows4(x, out, cols / 4, rows);
  else _run("sum_rows", [x], out, cols, { cols, rows });
  return out;
}

/**
 * Rows one sum_rows launch sums: lavapipe ends a shader after 65535 loop iterations in all. A multiple of
 * 64, so every later launch's byte offset (r0 · cols · 4) is a multiple of 256 (the binding alignment).
 */
const _SUM_ROWS_PER_LAUNCH = 59968;

/** sumRows over more rows than one launch may walk: per-launch column sums, added in row order. */
function _sumRowsChunked(x: Tensor, cols: number, rows: number): Tensor {
  let acc: Tensor | null = null;
  for (let r0 = 0; r0 < rows; r0 += _SUM_ROWS_PER_LAUNCH) {
    const n = Math.min(_SUM_ROWS_PER_LAUNCH, rows - r0);
    const part = Tensor.empty([cols], "f32", "sum_rows.part");
    gpu().dispatch({
      label: "elementwise.sum_rows",
      code: src,
      entryPoint: "sum_rows",
      inputs: [{ buffer: x.buffer, offset: r0 * cols * 4, size: n * cols * 4 }],
      outputs: [part.res],
      params: [cols, cols, n, f32(1)],
      workgroups: splitGrid(Math.ceil(cols / 256)),
    });
    if (!acc) acc = part;
    else {
      const next: Tensor = noGrad(() => add(acc!, part));
      acc.dispose();
      part.dispose();
      acc = next;
    }
  }
  return acc!;
}

/**
 * sumRows over vec4 columns in row chunks (kernels/elementwise.wgsl, sum_rows4_*): chunks of at least 16
 * rows, at most ~32 chunks. Measured on lavapipe at 512×768: one sum_rows launch spans 3 workgroups.
 */
function _sumRows4(x: Tensor, out: Tensor, cols4: number, rows: number): void {
  const chunk = Math.max(16, Math.ceil(rows / 32));
  const chunks = Math.ceil(rows / chunk);
  const part = chunks === 1 ? out : Tensor.empty([chunks, cols4 * 4], "f32", "sum_rows.partial");
  const wg = Math.ceil(cols4 / 64);
  const params = [cols4, rows, chunk, chunks];
  dispatchStaged({
    label: "elementwise.sum_rows4_partial",
    code: src,
    entryPoint: "sum_rows4_partial",
    inputs: [x.res],
    outputs: [part.res],
    params,
    workgroups: [wg, chunks],
  }, ["rs_in"]);
  if (part === out) return;
  gpu().dispatch({
    label: "elementwise.sum_rows4_finish",
    code: src,
    entryPoint: "sum_rows4_finish",
    inputs: [part.res],
    outputs: [out.res],
    params,
    workgroups: [wg],
  });
  part.dispose();
}

/** `x` with another shape of the same size (a view; differentiable: the gradient is reshaped back). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const out = Tensor.view(x, shape);
  return record(out, "reshape", [x], (g) => [copy(g, x.shape)]);
}

function _cols3(
  entry: "split_cols3" | "concat_cols3",
  inputs: Tensor[],
  outputs: Tensor[],
  rows: number,
  c4: number,
) {
  dispatchStaged({
    label: `elementwise.${entry}`,
    code: src,
    entryPoint: entry,
    inputs: inputs.map((t) => t.res),
    outputs: outputs.map((t) => t.res),
    params: [rows, c4, 0, 0],
    workgroups: splitGrid(Math.ceil((rows * c4) / 256)),
  }, entry === "split_cols3" ? ["cs_whole"] : ["cc_part0", "cc_part1", "cc_part2"]);
}

/**
 * Splits `x` (..., 3·C) into its three column blocks (..., C) (not recorded; C % 4 == 0). The inverse of
 * {@link concatCols3}.
 */
export function splitCols3(x: Tensor, names: [string, string, string]): [Tensor, Tensor, Tensor] {
  const whole = x.shape[x.shape.length - 1];
  const C = whole / 3;
  if (!Number.isInteger(C) || C % 4 !== 0) {
    throw new RangeError(`splitCols3: ${x} must end in 3·C with C a multiple of 4`);
  }
  const shape = [...x.shape.slice(0, -1), C];
  const parts = names.map((n) => Tensor.empty(shape, "f32", n)) as [Tensor, Tensor, Tensor];
  _cols3("split_cols3", [x], parts, x.size / whole, C / 4);
  return parts;
}

/** Concatenates three (..., C) tensors along the last dimension into (..., 3·C) (not recorded; C % 4 == 0). */
export function concatCols3(parts: [Tensor, Tensor, Tensor], name = "concat_cols3"): Tensor {
  const [a, b, c] = parts;
  const C = a.shape[a.shape.length - 1];
  if (C % 4 !== 0 || b.size !== a.size || c.size !== a.size) {
    throw new RangeError(`concatCols3: ${a}, ${b}, ${c} must have one shape ending in a multiple of 4`);
  }
  const out = Tensor.empty([...a.shape.slice(0, -1), 3 * C], "f32", name);
  _cols3("concat_cols3", parts, [out], a.size / C, C / 4);
  return out;
}
