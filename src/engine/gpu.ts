/**
 * The WebGPU runtime: adapter and device acquisition, the buffer pool, the pipeline cache, batched
 * command encoding (many dispatches in one compute pass, one submit per flush), uniform packing through a
 * ring buffer, validation errors surfaced as exceptions that name the kernel, and readback.
 * @module
 */
import { BindGroupCache, type BindingResource } from "./bind_groups.ts";
import { BufferPool, type PoolStats } from "./buffer_pool.ts";
import { recordDispatch } from "./dispatch_trace.ts";
import {
  profileAfterSubmit,
  profileBeforeSubmit,
  profileDispatchBegin,
  profileDispatchEnd,
  profileHostSpan,
  profileNeedsFlush,
  profiling,
} from "./profiler.ts";

/** Thrown when no WebGPU adapter can be had; its message says how to get one. */
export class WebGpuUnavailableError extends Error {
  /** Creates the error with the reason and the fix. */
  constructor(reason: string) {
    super(
      `WebGPU is not available: ${reason}. In Deno, navigator.gpu needs a GPU driver or a CPU fallback: ` +
        `on Debian/Ubuntu install Mesa's lavapipe ('apt-get install mesa-vulkan-drivers') or llvmpipe ` +
        `('libgl1-mesa-dri'); in a browser use one with WebGPU enabled.`,
    );
    this.name = "WebGpuUnavailableError";
  }
}

/** Thrown when the GPU reports a validation or out-of-memory error; names the kernels involved. */
export class GpuError extends Error {
  /** Creates the error from the device's message and the labels of the kernels that were encoded. */
  constructor(message: string, kernels: string[]) {
    const names = [...new Set(kernels)].slice(0, 12).join(", ");
    super(`GPU error in kernel(s) [${names}]: ${message}`);
    this.name = "GpuError";
  }
}

/** A plain number packs as u32; wrap with {@link f32} or {@link i32} for the other scalar types. */
export type ParamValue = number | { f32: number } | { i32: number };

/** Marks a uniform parameter as f32. */
export function f32(x: number): { f32: number } {
  return { f32: x };
}

/** Marks a uniform parameter as i32. */
export function i32(x: number): { i32: number } {
  return { i32: x };
}

/** A storage buffer range to bind. */
export interface BufferResource {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Bytes to bind (default: the whole buffer). */
  size?: number;
  /** Byte offset (default 0). */
  offset?: number;
}

/**
 * A storage texture (rgba32float, or rgba16float for the fp16 matmul staging) to bind: read-only as an
 * input, write-only as an output. The binding's format is the texture's.
 */
export interface TextureResource {
  /** The texture. */
  texture: GPUTexture;
}

/** Anything a kernel can bind: a {@link BufferResource} or a {@link TextureResource}. */
export type Resource = BufferResource | TextureResource;

/** One kernel launch. Bindings follow the project convention: inputs, then outputs, then one uniform. */
export interface DispatchSpec {
  /** Shown in GPU errors and labels (e.g. `layernorm.forward`). */
  label: string;
  /** WGSL source (usually a whole kernel family file). */
  code: string;
  /** Entry point in `code`. */
  entryPoint: string;
  /** Read-only bindings 0..n-1. */
  inputs: Resource[];
  /** Read-write bindings n..n+m-1. */
  outputs: Resource[];
  /** Scalars of the params uniform (binding n+m), each 4 bytes, in struct order. Omit for none. */
  params?: ParamValue[];
  /** Workgroup counts; each must be ≤ maxComputeWorkgroupsPerDimension (see {@link splitGrid}). */
  workgroups: [number, number?, number?];
  /** Constants to override in the shader (WGSL `override` declarations). */
  constants?: Record<string, number>;
  /** Floating-point operations of this launch, where the op knows them (shown by the profiler). */
  flops?: number;
}

/** Adapter facts reported by {@link Gpu.describe}. */
export interface GpuDescription {
  /** Adapter description (e.g. `llvmpipe (LLVM 15.0.6, 256 bits)`). */
  description: string;
  /** Vendor string or id. */
  vendor: string;
  /** True on a software (CPU) adapter. */
  isFallbackAdapter: boolean;
  /** The limits the device was created with. */
  limits: Record<string, number>;
}

const _UNIFORM_SLOT = 256;
const _UNIFORM_SLOTS = 4096;
const _MAX_DISPATCHES_PER_FLUSH = 4000;

interface _Pipe {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

function _isTexture(r: Resource): r is TextureResource {
  return (r as TextureResource).texture !== undefined;
}

/** The WebGPU runtime; obtain it with {@link initGpu} and afterwards {@link gpu}. */
export class Gpu {
  /** The device. */
  readonly device: GPUDevice;
  /** The adapter's information. */
  readonly adapterInfo: GPUAdapterInfo;
  /** The pool all tensors allocate from. */
  readonly pool: BufferPool;
  /** The bind groups dispatches reuse (see bind_groups.ts). */
  readonly bindGroups: BindGroupCache;
  /** code → (entry point, layout, constants) → pipeline; nested so no long key is built per dispatch. */
  #pipelines = new Map<string, Map<string, _Pipe>>();
  #modules = new Map<string, GPUShaderModule>();
  #layouts = new Map<string, GPUBindGroupLayout>();
  #encoder: GPUCommandEncoder | null = null;
  #pass: GPUComputePassEncoder | null = null;
  #uniformRing: GPUBuffer;
  #uniformData = new ArrayBuffer(_UNIFORM_SLOT * _UNIFORM_SLOTS);
  #uniformSlot = 0;
  #batchKernels: string[] = [];
  #pendingErrors: Promise<void>[] = [];
  #error: GpuError | null = null;
  #dispatchCount = 0;
  #staging: GPUBuffer[] = [];

  /**
   * The prefix a WGSL source needs for subgroup builtins (`""` or `"enable subgroups;\n"`), or null where
   * the device cannot run them (see initGpu).
   */
  readonly subgroupWgsl: string | null;

  /** Wraps a device; use {@link initGpu} instead. */
  constructor(device: GPUDevice, info: GPUAdapterInfo, subgroupWgsl: string | null = null) {
    this.device = device;
    this.adapterInfo = info;
    this.subgroupWgsl = subgroupWgsl;
    this.bindGroups = new BindGroupCache(device);
    this.pool = new BufferPool(device, device.limits.maxBufferSize, (b) => this.bindGroups.forget(b));
    this.#uniformRing = device.createBuffer({
      size: this.#uniformData.byteLength,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: "uniform-ring",
    });
    device.addEventListener("uncapturederror", (e) => {
      const err = (e as GPUUncapturedErrorEvent).error;
      this.#error ??= new GpuError(err.message, ["(uncaptured)"]);
    });
  }

  /** The device limits. */
  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  /** Total kernel launches so far (for benchmarks and tests). */
  get dispatchCount(): number {
    return this.#dispatchCount;
  }

  /** Adapter description and device limits. */
  describe(): GpuDescription {
    const limits: Record<string, number> = {};
    for (const k in this.device.limits) {
      limits[k] = (this.device.limits as unknown as Record<string, number>)[k];
    }
    return {
      description: this.adapterInfo.description || this.adapterInfo.device || "unknown",
      vendor: this.adapterInfo.vendor,
      isFallbackAdapter: this.adapterInfo.isFallbackAdapter ?? false,
      limits,
    };
  }

  /** Memory counters of the buffer pool. */
  memory(): PoolStats {
    return this.pool.stats();
  }

  #module(code: string): GPUShaderModule {
    let m = this.#modules.get(code);
    if (!m) {
      m = this.device.createShaderModule({ code, label: code.slice(0, 60) });
      this.#modules.set(code, m);
    }
    return m;
  }

  #layout(spec: DispatchSpec): GPUBindGroupLayout {
    // One token per binding: r/w storage buffers, T/W read-only/write-only storage textures (with their
    // format: rgba32float, or rgba16float for the fp16 matmul staging), u the params uniform.
    const kinds = [
      ...spec.inputs.map((r) => _isTexture(r) ? `T:${r.texture.format}` : "r"),
      ...spec.outputs.map((r) => _isTexture(r) ? `W:${r.texture.format}` : "w"),
      ...(spec.params ? ["u"] : []),
    ];
    const key = kinds.join(",");
    let layout = this.#layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = kinds.map((k, binding) => {
        const visibility = GPUShaderStage.COMPUTE;
        const format = k.slice(2) as GPUTextureFormat;
        switch (k[0]) {
          case "r":
            return { binding, visibility, buffer: { type: "read-only-storage" } };
          case "w":
            return { binding, visibility, buffer: { type: "storage" } };
          case "T":
            return {
              binding,
              visibility,
              storageTexture: { access: "read-only", format, viewDimension: "2d" },
            };
          case "W":
            return {
              binding,
              visibility,
              storageTexture: { access: "write-only", format, viewDimension: "2d" },
            };
          default: // bound once per bind group, each dispatch's slot at a dynamic offset
            return { binding, visibility, buffer: { type: "uniform", hasDynamicOffset: true } };
        }
      });
      layout = this.device.createBindGroupLayout({ entries, label: `layout-${key}` });
      this.#layouts.set(key, layout);
    }
    return layout;
  }

  /** Returns the cached pipeline for a spec, creating it (inside an error scope) on first use. */
  #pipeline(spec: DispatchSpec): _Pipe {
    const layout = this.#layout(spec);
    const constKey = spec.constants ? JSON.stringify(spec.constants) : "";
    const key = `${spec.entryPoint}\u0000${layout.label}\u0000${constKey}`;
    let byCode = this.#pipelines.get(spec.code);
    if (!byCode) this.#pipelines.set(spec.code, byCode = new Map());
    let p = byCode.get(key);
    if (!p) {
      this.device.pushErrorScope("internal"); // e.g. a backend's shader translation failing
      this.device.pushErrorScope("validation");
      const pipeline = this.device.createComputePipeline({
        label: spec.label,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout], label: spec.label }),
        compute: { module: this.#module(spec.code), entryPoint: spec.entryPoint, constants: spec.constants },
      });
      this.#watch(this.device.popErrorScope(), [spec.label]);
      this.#watch(this.device.popErrorScope(), [spec.label]);
      p = { pipeline, layout };
      byCode.set(key, p);
    }
    return p;
  }

  #watch(scope: Promise<GPUError | null>, kernels: string[]): void {
    this.#pendingErrors.push(scope.then((e) => {
      if (e) this.#error ??= new GpuError(e.message, kernels);
    }));
    if (this.#pendingErrors.length > 64) this.#pendingErrors.splice(0, 32);
  }

  #throwIfFailed(): void {
    if (this.#error) {
      const e = this.#error;
      this.#error = null;
      throw e;
    }
  }

  #ensureEncoder(): GPUCommandEncoder {
    if (!this.#encoder) {
      this.device.pushErrorScope("out-of-memory");
      this.device.pushErrorScope("validation");
      this.#encoder = this.device.createCommandEncoder({ label: "batch" });
    }
    return this.#encoder;
  }

  #beginBatch(timestampWrites?: GPUComputePassTimestampWrites): GPUComputePassEncoder {
    const enc = this.#ensureEncoder();
    if (timestampWrites) { // profiling with timestamp-query: one pass per dispatch
      this.#pass?.end();
      this.#pass = enc.beginComputePass({ label: "compute", timestampWrites });
    }
    if (!this.#pass) this.#pass = enc.beginComputePass({ label: "compute" });
    return this.#pass;
  }

  /** The current command encoder with no compute pass open (for copies), ordered after earlier work. */
  encoderForCopy(): GPUCommandEncoder {
    const enc = this.#ensureEncoder();
    this.#pass?.end();
    this.#pass = null;
    return enc;
  }

  /** Encodes one kernel launch into the current batch (no GPU work starts until {@link flush}). */
  dispatch(spec: DispatchSpec): void {
    this.#throwIfFailed();
    const [x, y = 1, z = 1] = spec.workgroups;
    const maxWg = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxWg || y > maxWg || z > maxWg) {
      throw new RangeError(`kernel ${spec.label}: workgroups [${x},${y},${z}] exceed ${maxWg} per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    if (spec.params && this.#uniformSlot >= _UNIFORM_SLOTS) this.flush();
    if (this.#batchKernels.length >= _MAX_DISPATCHES_PER_FLUSH) this.flush();
    const profiled = profiling();
    if (profiled && profileNeedsFlush()) this.flush();
    const hostStart = profiled ? performance.now() : 0;
    const { pipeline, layout } = this.#pipeline(spec);
    const pass = this.#beginBatch(
      profiled ? profileDispatchBegin(this.device, this.adapterInfo.isFallbackAdapter ?? false) : undefined,
    );
    const resources: BindingResource[] = [];
    for (const r of [...spec.inputs, ...spec.outputs]) {
      if (_isTexture(r)) resources.push({ texture: r.texture });
      else {
        const size = r.size ?? r.buffer.size;
        if (size > this.device.limits.maxStorageBufferBindingSize) {
          throw new RangeError(
            `kernel ${spec.label}: binding ${resources.length} is ${size} bytes, over this device's ` +
              `maxStorageBufferBindingSize (${this.device.limits.maxStorageBufferBindingSize}); ` +
              `use smaller batches/sequences or a device with larger limits`,
          );
        }
        resources.push({ buffer: r.buffer, offset: r.offset ?? 0, size: _align4(size) });
      }
    }
    let uniformOffset = -1;
    if (spec.params) {
      if (spec.params.length > _UNIFORM_SLOT / 4) {
        throw new RangeError(`kernel ${spec.label}: too many params`);
      }
      const slot = this.#uniformSlot++;
      const view = new DataView(this.#uniformData, slot * _UNIFORM_SLOT, _UNIFORM_SLOT);
      spec.params.forEach((v, i) => {
        if (typeof v === "number") view.setUint32(i * 4, v >>> 0, true);
        else if ("f32" in v) view.setFloat32(i * 4, v.f32, true);
        else view.setInt32(i * 4, v.i32, true);
      });
      uniformOffset = slot * _UNIFORM_SLOT;
    }
    const bindGroup = this.bindGroups.get(
      layout,
      resources,
      spec.params ? this.#uniformRing : null,
      _UNIFORM_SLOT,
      spec.label,
    );
    pass.setPipeline(pipeline);
    if (uniformOffset >= 0) pass.setBindGroup(0, bindGroup, [uniformOffset]);
    else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.#batchKernels.push(spec.label);
    this.#dispatchCount++;
    recordDispatch(spec.label); // tests: which kernels ran (see dispatch_trace.ts)
    if (profiled) profileDispatchEnd(spec.label, _boundBytes(spec), spec.flops ?? 0, hostStart);
  }

  /**
   * Destroys a buffer or texture that kernels may have bound, dropping the cached bind groups that name it
   * first. Every destroy of a bindable resource goes through here (or through the pool, which does the same).
   */
  destroy(resource: GPUBuffer | GPUTexture): void {
    this.bindGroups.forget(resource);
    resource.destroy();
  }

  /** Submits everything encoded so far. Does not wait for the GPU. */
  flush(): void {
    if (!this.#encoder) return;
    const t0 = profiling() ? performance.now() : 0;
    this.#pass?.end();
    this.#pass = null;
    if (t0) profileBeforeSubmit(this.#encoder);
    if (this.#uniformSlot > 0) {
      this.device.queue.writeBuffer(
        this.#uniformRing,
        0,
        this.#uniformData,
        0,
        this.#uniformSlot * _UNIFORM_SLOT,
      );
    }
    this.device.queue.submit([this.#encoder.finish()]);
    if (t0) profileAfterSubmit(this.device.queue, t0);
    this.#encoder = null;
    this.#uniformSlot = 0;
    const kernels = this.#batchKernels;
    this.#batchKernels = [];
    this.#watch(this.device.popErrorScope(), kernels);
    this.#watch(this.device.popErrorScope(), kernels);
  }

  /** Writes host data into a buffer after all work encoded so far (flushes first to keep order). */
  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.#throwIfFailed();
    this.flush();
    const t0 = profiling() ? performance.now() : 0;
    this.device.queue.writeBuffer(
      buffer,
      byteOffset,
      data.buffer as ArrayBuffer,
      data.byteOffset,
      data.byteLength,
    );
    if (t0) profileHostSpan("host: queue.writeBuffer (uploads)", t0);
  }

  /** Waits until the GPU has finished all submitted work; throws a pending GPU error. */
  async sync(): Promise<void> {
    this.flush();
    const t0 = profiling() ? performance.now() : 0;
    await this.device.queue.onSubmittedWorkDone();
    if (t0) profileHostSpan("host: sync wait (GPU busy or idle latency)", t0);
    await Promise.all(this.#pendingErrors.splice(0));
    this.#throwIfFailed();
  }

  /**
   * Copies buffer ranges back to the host with one submit and one map. Each entry gives a buffer and its
   * byte length; the result holds one ArrayBuffer per entry.
   */
  async readBuffers(ranges: { buffer: GPUBuffer; bytes: number }[]): Promise<ArrayBuffer[]> {
    this.#throwIfFailed();
    const offsets: number[] = [];
    let total = 0;
    for (const r of ranges) {
      offsets.push(total);
      total += Math.ceil(r.bytes / 256) * 256;
    }
    const staging = this.#takeStaging(Math.max(total, 256));
    const enc = this.encoderForCopy();
    ranges.forEach((r, i) => {
      if (r.bytes > 0) enc.copyBufferToBuffer(r.buffer, 0, staging, offsets[i], _align4(r.bytes));
    });
    this.flush();
    const t0 = profiling() ? performance.now() : 0;
    try {
      await staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      await Promise.all(this.#pendingErrors.splice(0));
      this.#throwIfFailed();
      throw e;
    }
    const mapped = staging.getMappedRange();
    const out = ranges.map((r, i) => mapped.slice(offsets[i], offsets[i] + r.bytes));
    staging.unmap();
    if (t0) profileHostSpan("host: readback wait (mapAsync)", t0);
    this.#staging.push(staging);
    await Promise.all(this.#pendingErrors.splice(0));
    this.#throwIfFailed();
    return out;
  }

  #takeStaging(bytes: number): GPUBuffer {
    const i = this.#staging.findIndex((b) => b.size >= bytes && b.size <= 4 * bytes);
    if (i >= 0) return this.#staging.splice(i, 1)[0];
    if (this.#staging.length > 4) this.#staging.shift()!.destroy();
    return this.device.createBuffer({
      size: Math.ceil(bytes / 256) * 256,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "readback-staging",
    });
  }
}

/** Bytes a launch binds (inputs and outputs), the profiler's GB/s basis. */
function _boundBytes(spec: DispatchSpec): number {
  let n = 0;
  for (const r of [...spec.inputs, ...spec.outputs]) {
    if (_isTexture(r)) {
      n += r.texture.width * r.texture.height * (r.texture.format === "rgba16float" ? 8 : 16);
    } else n += r.size ?? r.buffer.size;
  }
  return n;
}

function _align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * Splits a 1-D workgroup count into an x/y grid within the per-dimension limit. Kernels recover the linear
 * workgroup index as `wid.x + wid.y * nwg.x` (`@builtin(num_workgroups) nwg`) and must bounds-check.
 */
export function splitGrid(count: number, maxPerDim = 65535): [number, number, number] {
  if (count <= maxPerDim) return [Math.max(count, 1), 1, 1];
  const y = Math.ceil(count / maxPerDim);
  return [Math.ceil(count / y), y, 1];
}

let _gpu: Gpu | null = null;
let _pending: Promise<Gpu> | null = null;

/** Options for {@link initGpu}. */
export interface InitGpuOptions {
  /** Adapter preference passed to `requestAdapter`. */
  powerPreference?: GPUPowerPreference;
}

/**
 * Acquires the adapter and a device with the adapter's maximum limits (once; later calls return the same
 * runtime). Throws {@link WebGpuUnavailableError} naming the fix when WebGPU is missing.
 */
export function initGpu(opts: InitGpuOptions = {}): Promise<Gpu> {
  if (_gpu) return Promise.resolve(_gpu);
  _pending ??= _createGpu(opts).catch((e) => {
    _pending = null; // a later call may try again
    throw e;
  });
  return _pending;
}

async function _createGpu(opts: InitGpuOptions): Promise<Gpu> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav?.gpu) throw new WebGpuUnavailableError("navigator.gpu is undefined");
  const adapter = await nav.gpu.requestAdapter({ powerPreference: opts.powerPreference });
  if (!adapter) throw new WebGpuUnavailableError("requestAdapter() returned no adapter");
  const requiredLimits: Record<string, number> = {};
  for (const k in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === "number") requiredLimits[k] = v;
  }
  // timestamp-query for the profiler, shader-f16 for --fp16, subgroups for the GPU-class matmul
  const wanted: GPUFeatureName[] = ["timestamp-query", "shader-f16", "subgroups" as GPUFeatureName];
  const disabled = _disabledFeatures();
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f) && !disabled.has(f));
  let device: GPUDevice | null = null;
  if (!disabled.has("subgroups") && !adapter.features.has("subgroups" as GPUFeatureName)) {
    // Deno's adapters leave `subgroups` out of adapter.features but grant it when asked (lavapipe: 8 lanes).
    device = await adapter.requestDevice({
      requiredLimits,
      requiredFeatures: [...requiredFeatures, "subgroups" as GPUFeatureName],
      label: "webgpu-ner",
    }).catch(() => null);
  }
  device ??= await adapter.requestDevice({ requiredLimits, requiredFeatures, label: "webgpu-ner" });
  const subgroupWgsl = await _subgroupDirective(device);
  _gpu = new Gpu(device, adapter.info, subgroupWgsl);
  _drainBeforeExit(device);
  return _gpu;
}

/**
 * What a WGSL source must start with to use subgroup builtins on this device: `""` where they compile as
 * they are (Naga in Deno rejects `enable subgroups;`), `"enable subgroups;\n"` where that directive is
 * required (browsers), null where neither compiles or the device lacks the `subgroups` feature.
 */
async function _subgroupDirective(device: GPUDevice): Promise<string | null> {
  if (!device.features.has("subgroups")) return null;
  const body = "@group(0) @binding(0) var<storage, read_write> o: array<f32>;\n" +
    "@compute @workgroup_size(8) fn main(@builtin(subgroup_invocation_id) s: u32) " +
    "{ o[s] = subgroupBroadcast(f32(s), 1u); }";
  for (const prefix of ["", "enable subgroups;\n"]) {
    device.pushErrorScope("validation");
    const info = await device.createShaderModule({ code: prefix + body }).getCompilationInfo();
    const err = await device.popErrorScope();
    if (!err && !info.messages.some((m) => m.type === "error")) return prefix;
  }
  return null;
}

/**
 * In Deno, lets submitted GPU work finish before the process exits: when the event loop runs dry
 * (`beforeunload`, cancelled with preventDefault) a timer keeps it alive until `onSubmittedWorkDone`
 * resolves (measured without this: the process exited 23 ms after submitting ~250 ms of work). A CPU adapter
 * runs submits on its own threads, and tearing the device down under them at exit is a race (the suite
 * has shown heap-corruption aborts after its summary; this is the guard against that, not a proven fix).
 * Browsers are left alone: their `beforeunload` means something else.
 */
function _drainBeforeExit(device: GPUDevice): void {
  const g = globalThis as {
    Deno?: unknown;
    addEventListener?: (t: string, f: (e: Event) => void) => void;
  };
  if (!g.Deno || typeof g.addEventListener !== "function") return;
  let state: "running" | "waiting" | "idle" = "running";
  g.addEventListener("beforeunload", (e) => {
    if (state === "idle") return;
    e.preventDefault(); // Deno: keep the event loop running; beforeunload fires again when it is dry
    if (state === "waiting") return;
    state = "waiting";
    device.queue.onSubmittedWorkDone().then(() => state = "idle", () => state = "idle");
    // The promise alone does not keep the loop alive; a timer does, until the queue reports idle.
    const until = performance.now() + 60_000;
    const poll = () => {
      if (state === "idle") return;
      if (performance.now() < until) setTimeout(poll, 2);
      else state = "idle";
    };
    setTimeout(poll, 2);
  });
}

/**
 * Features named in the `WEBGPU_NER_DISABLE_FEATURES` environment variable (comma-separated, e.g.
 * `shader-f16`) are not requested from the adapter, so the device lacks them as on an adapter without
 * them (tests and diagnostics; ignored where the environment cannot be read).
 */
function _disabledFeatures(): Set<string> {
  try {
    const v = (globalThis as { Deno?: typeof Deno }).Deno?.env.get("WEBGPU_NER_DISABLE_FEATURES") ?? "";
    return new Set(v.split(",").map((f) => f.trim()).filter((f) => f));
  } catch {
    return new Set(); // no --allow-env for it
  }
}

/** The runtime created by {@link initGpu}; throws when it has not been awaited yet. */
export function gpu(): Gpu {
  if (!_gpu) throw new Error("the GPU runtime is not initialised: `await initGpu()` first");
  return _gpu;
}
