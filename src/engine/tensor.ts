/**
 * Tensors: contiguous, row-major GPU storage of f32 (activations, parameters) or i32/u32 (ids, labels),
 * with explicit lifetimes. Every tensor belongs to the innermost open scope ({@link tidy}/{@link Scope})
 * and is disposed when that scope ends unless it is kept, returned, or marked persistent (parameters).
 * @module
 */
import { gpu, type Resource } from "./gpu.ts";

/** Element types; all are 4 bytes. */
export type DType = "f32" | "i32" | "u32";

/** The host array type for each dtype. */
export type HostArray<D extends DType = DType> = D extends "f32" ? Float32Array
  : D extends "i32" ? Int32Array
  : Uint32Array;

/** A node of the autograd tape: how to turn the output's gradient into the inputs' gradients. */
export interface TapeNode {
  /** Op name, for errors and debugging. */
  op: string;
  /** The tensors the op read (gradients flow to those with requiresGrad). */
  inputs: Tensor[];
  /** Given d(loss)/d(output), returns d(loss)/d(input) per input (null where none is needed). */
  backward: (gradOutput: Tensor) => (Tensor | null)[];
  /** Tensors only the backward rule needs; disposed once it has run. */
  saved: Tensor[];
}

let _nextId = 1;

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in shape [${shape}]`);
    n *= d;
  }
  return n;
}

/** A GPU tensor. */
export class Tensor {
  /** Unique id (for maps and debugging). */
  readonly id = _nextId++;
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Label used for the GPU buffer and in errors. */
  name: string;
  /** True when gradients should flow to this tensor. */
  requiresGrad = false;
  /** Accumulated gradient (leaf tensors with requiresGrad, after backward). */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor, when recorded. */
  node: TapeNode | null = null;
  /** Persistent tensors (parameters, optimizer state) are never disposed by a scope. */
  persistent = false;
  #buffer: GPUBuffer | null;
  #base: Tensor | null;
  #beforeUse: (() => void) | null = null;

  /**
   * Allocates storage from the pool (contents undefined); prefer {@link Tensor.empty}. With `base`, the
   * tensor is a view sharing base's storage (see {@link Tensor.view}).
   */
  constructor(shape: readonly number[], dtype: DType = "f32", name = "tensor", base: Tensor | null = null) {
    this.shape = [...shape];
    this.dtype = dtype;
    this.size = numel(shape);
    this.name = name;
    this.#base = base;
    if (base && base.size !== this.size) {
      throw new RangeError(`cannot view ${base} as shape [${shape}]: sizes differ`);
    }
    this.#buffer = base ? base.buffer : gpu().pool.acquire(Math.max(this.size * 4, 4), name);
    _currentScope()?.track(this);
  }

  /**
   * A tensor of another shape sharing `base`'s storage (no copy, not recorded on the tape). The view must
   * not outlive its base; disposing a view never frees the storage.
   */
  static view(base: Tensor, shape: readonly number[]): Tensor {
    return new Tensor(shape, base.dtype, `${base.name}.view`, base);
  }

  /** An uninitialised tensor. */
  static empty(shape: readonly number[], dtype: DType = "f32", name = "tensor"): Tensor {
    return new Tensor(shape, dtype, name);
  }

  /** A tensor holding a copy of host data. */
  static from(
    data: ArrayLike<number> | Float32Array | Int32Array | Uint32Array,
    shape: readonly number[],
    dtype: DType = "f32",
    name = "tensor",
  ): Tensor {
    const n = numel(shape);
    if (data.length !== n) {
      throw new RangeError(
        `tensor '${name}': ${data.length} values given for shape [${shape}] (${n} expected)`,
      );
    }
    const t = new Tensor(shape, dtype, name);
    const host = dtype === "f32"
      ? (data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>))
      : dtype === "i32"
      ? (data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>))
      : (data instanceof Uint32Array ? data : Uint32Array.from(data as ArrayLike<number>));
    if (n > 0) gpu().write(t.buffer, host);
    return t;
  }

  /**
   * The GPU buffer (throws after {@link dispose}). Taking it first runs a deferred update set by
   * {@link setBeforeUse} (on this tensor, or on the base of a view), so every binding, copy and read sees
   * current contents.
   */
  get buffer(): GPUBuffer {
    this.#runBeforeUse();
    if (this.#base) this.#base.#runBeforeUse();
    return this.bufferDeferred;
  }

  /**
   * The GPU buffer without running a deferred update: only for the kernels that apply that update part
   * by part (the lazy-row AdamW and the lookups it has brought current: src/ops/adamw_lazy.ts).
   */
  get bufferDeferred(): GPUBuffer {
    if (this.#base?.disposed) this.#buffer = null;
    if (!this.#buffer) throw new Error(`tensor '${this.name}' (#${this.id}) was used after dispose()`);
    return this.#buffer;
  }

  /**
   * Defers work that must run before this tensor's storage is next used: `fn` runs once, when
   * {@link buffer} is next taken (any binding, copy or read), and is then cleared; null cancels it.
   */
  setBeforeUse(fn: (() => void) | null): void {
    this.#beforeUse = fn;
  }

  /** Whether a deferred update is waiting ({@link setBeforeUse}). */
  get hasDeferredUpdate(): boolean {
    return this.#beforeUse !== null;
  }

  #runBeforeUse(): void {
    const fn = this.#beforeUse;
    if (!fn) return;
    this.#beforeUse = null;
    fn();
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#buffer === null;
  }

  /** Byte size of the data (the buffer may be larger). */
  get byteLength(): number {
    return this.size * 4;
  }

  /** This tensor as a kernel binding of exactly its data. */
  get res(): Resource {
    return { buffer: this.buffer, size: Math.max(this.byteLength, 4) };
  }

  /** {@link res} without running a deferred update (see {@link bufferDeferred}). */
  get resDeferred(): Resource {
    return { buffer: this.bufferDeferred, size: Math.max(this.byteLength, 4) };
  }

  /** Copies the data back to the host (flushes pending work; costs one GPU round trip). */
  async read(): Promise<Float32Array | Int32Array | Uint32Array> {
    const [ab] = await gpu().readBuffers([{ buffer: this.buffer, bytes: this.byteLength }]);
    return _view(ab, this.dtype);
  }

  /** Copies the data back as a Float32Array (f32 tensors). */
  async readF32(): Promise<Float32Array> {
    if (this.dtype !== "f32") throw new TypeError(`tensor '${this.name}' is ${this.dtype}, not f32`);
    return (await this.read()) as Float32Array;
  }

  /** Returns the storage to the pool; further use throws. Idempotent. */
  dispose(): void {
    if (!this.#buffer) return;
    if (!this.#base) gpu().pool.release(this.#buffer);
    this.#buffer = null;
    this.#beforeUse = null;
    this.node = null;
    if (this.grad && !this.grad.persistent) this.grad.dispose();
  }

  /** Marks the tensor persistent (not disposed by scopes) and returns it. */
  keep(): this {
    this.persistent = true;
    return this;
  }

  /** A description for errors: name and shape. */
  toString(): string {
    return `${this.name}[${this.shape.join("×")}] ${this.dtype}`;
  }
}

/** Reads several tensors back with a single GPU round trip. */
export async function readAll(tensors: Tensor[]): Promise<(Float32Array | Int32Array | Uint32Array)[]> {
  const abs = await gpu().readBuffers(tensors.map((t) => ({ buffer: t.buffer, bytes: t.byteLength })));
  return abs.map((ab, i) => _view(ab, tensors[i].dtype));
}

function _view(ab: ArrayBuffer, dtype: DType): Float32Array | Int32Array | Uint32Array {
  return dtype === "f32" ? new Float32Array(ab) : dtype === "i32" ? new Int32Array(ab) : new Uint32Array(ab);
}

/** Throws a clear error unless `t` has the expected shape (use -1 for "any"). */
export function assertShape(t: Tensor, expected: readonly number[], what: string): void {
  const ok = t.shape.length === expected.length && expected.every((d, i) => d === -1 || d === t.shape[i]);
  if (!ok) throw new RangeError(`${what}: expected shape [${expected}], got ${t}`);
}

// ---- scopes -------------------------------------------------------------------------------------------

/** A set of tensors disposed together. Scopes nest; tensors register with the innermost open one. */
export class Scope {
  #tensors: Tensor[] = [];
  #parent: Scope | null;
  #open = true;

  /** Opens a scope nested in the current one. */
  constructor() {
    this.#parent = _scopes[_scopes.length - 1] ?? null;
    _scopes.push(this);
  }

  /** Registers a tensor (done by the Tensor constructor). */
  track(t: Tensor): void {
    this.#tensors.push(t);
  }

  /**
   * Closes the scope: disposes its tensors except persistent ones and those in `keep`, which move to the
   * parent scope (or become untracked at top level).
   */
  end(keep: Iterable<Tensor> = []): void {
    if (!this.#open) return;
    this.#open = false;
    const idx = _scopes.lastIndexOf(this);
    if (idx >= 0) _scopes.splice(idx, 1);
    const kept = new Set(keep);
    for (const t of this.#tensors) {
      if (t.persistent || t.disposed) continue;
      if (kept.has(t)) this.#parent?.track(t);
      else t.dispose();
    }
    this.#tensors = [];
  }
}

const _scopes: Scope[] = [];

function _currentScope(): Scope | null {
  return _scopes[_scopes.length - 1] ?? null;
}

/** Tensors found in a returned value (a tensor, an array or a plain object of them). */
function _collect(v: unknown, out: Tensor[]): Tensor[] {
  if (v instanceof Tensor) out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => _collect(x, out));
  else if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    Object.values(v).forEach((x) => _collect(x, out));
  }
  return out;
}

/**
 * Runs `fn` in a new scope and disposes every tensor it created except those it returns (and persistent
 * ones). Async functions are supported; the scope ends when the promise settles.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Scope();
  let result: T;
  try {
    result = fn();
  } catch (e) {
    scope.end();
    throw e;
  }
  if (result instanceof Promise) {
    return result.then((r) => {
      scope.end(_collect(r, []));
      return r;
    }, (e) => {
      scope.end();
      throw e;
    }) as T;
  }
  scope.end(_collect(result, []));
  return result;
}
