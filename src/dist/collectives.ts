/**
 * Collectives on GPU tensors and shaped host arrays, over a {@link ProcessGroup}: gradients averaged in
 * buckets (a bucket's readback overlaps the previous bucket's all-reduce; the host never holds more than a
 * few buckets), parameters broadcast from rank 0, and the Accelerate helpers `gather` and
 * `pad_across_processes` on host arrays of any rank.
 * @module
 */
import { gpu } from "../engine/gpu.ts";
import { markRowSparseGradDense } from "../ops/embedding_grad.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { CommArray, ProcessGroup } from "./group.ts";

/** Default bucket size: 25 MiB, as PyTorch DDP's `bucket_cap_mb`. */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;

/** A host array with a shape (row-major), like a CPU tensor. */
export interface HostTensor<A extends CommArray = CommArray> {
  /** The elements, row-major. */
  data: A;
  /** Dimensions, outermost first. */
  shape: number[];
}

/** Cuts tensors, in order, into buckets of at most `bucketBytes` (a bigger tensor is a bucket alone). */
export function bucketize(tensors: readonly Tensor[], bucketBytes = DEFAULT_BUCKET_BYTES): Tensor[][] {
  const out: Tensor[][] = [];
  let cur: Tensor[] = [], bytes = 0;
  for (const t of tensors) {
    if (cur.length && bytes + t.byteLength > bucketBytes) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(t);
    bytes += t.byteLength;
  }
  if (cur.length) out.push(cur);
  return out;
}

async function _readBucket(bucket: Tensor[]): Promise<Float32Array> {
  const parts = await gpu().readBuffers(bucket.map((t) => ({ buffer: t.buffer, bytes: t.byteLength })));
  const n = bucket.reduce((s, t) => s + t.size, 0);
  const flat = new Float32Array(n);
  let o = 0;
  parts.forEach((ab, i) => {
    flat.set(new Float32Array(ab), o);
    o += bucket[i].size;
  });
  return flat;
}

function _writeBucket(bucket: Tensor[], flat: Float32Array): void {
  let o = 0;
  for (const t of bucket) {
    markRowSparseGradDense(t); // an averaged word-embedding gradient has other ranks' rows too
    gpu().write(t.buffer, flat.subarray(o, o + t.size));
    o += t.size;
  }
}

/**
 * Replaces every tensor by the element-wise mean over ranks (`scale` 1/size) — or by the sum with
 * `scale = 1` — in buckets: bucket k+1 is read back while bucket k is all-reduced on MPI's thread. A
 * single-process group returns at once (no readback). `readStarted` lets a caller hand over buckets
 * whose readback it already started (overlap with the backward pass).
 */
export async function allReduceTensors(
  group: ProcessGroup,
  tensors: readonly Tensor[],
  opts: { bucketBytes?: number; scale?: number; readStarted?: Map<Tensor[], Promise<Float32Array>> } = {},
): Promise<void> {
  if (group.size === 1 || tensors.length === 0) return;
  const scale = opts.scale ?? 1 / group.size;
  const buckets = bucketize(tensors, opts.bucketBytes);
  const read = (k: number) => opts.readStarted?.get(buckets[k]) ?? _readBucket(buckets[k]);
  let next = read(0);
  for (let k = 0; k < buckets.length; k++) {
    const flat = await next;
    const reduced = group.allReduce(flat, "sum");
    if (k + 1 < buckets.length) next = read(k + 1);
    await reduced;
    if (scale !== 1) { for (let i = 0; i < flat.length; i++) flat[i] *= scale; }
    _writeBucket(buckets[k], flat);
  }
}

/** Copies rank `root`'s tensors to every rank (parameters at `prepare`), in buckets. */
export async function broadcastTensors(
  group: ProcessGroup,
  tensors: readonly Tensor[],
  root = 0,
  bucketBytes = DEFAULT_BUCKET_BYTES,
): Promise<void> {
  if (group.size === 1 || tensors.length === 0) return;
  for (const bucket of bucketize(tensors, bucketBytes)) {
    const flat = group.rank === root
      ? await _readBucket(bucket)
      : new Float32Array(bucket.reduce((s, t) => s + t.size, 0));
    await group.broadcast(flat, root);
    if (group.rank !== root) _writeBucket(bucket, flat);
  }
}

function _check(x: HostTensor, what: string): void {
  const n = x.shape.reduce((a, b) => a * b, 1);
  if (n !== x.data.length) {
    throw new RangeError(`${what}: shape [${x.shape}] needs ${n} elements, got ${x.data.length}`);
  }
}

/**
 * Concatenates every rank's array along dimension 0, in rank order (HF `gather`). The other dimensions
 * must agree across ranks (pad first with {@link padAcrossProcesses}); the first may differ.
 */
export async function gatherHost<A extends CommArray>(
  group: ProcessGroup,
  x: HostTensor<A>,
): Promise<HostTensor<A>> {
  _check(x, "gather");
  if (group.size === 1) return { data: x.data.slice() as A, shape: [...x.shape] };
  const inner = x.shape.slice(1);
  if (x.shape.length > 8) throw new RangeError(`gather: at most 8 dimensions, got [${x.shape}]`);
  const width = 9;
  const mine = new Int32Array(width);
  mine[0] = x.shape.length;
  mine.set(inner, 1);
  const shapes = await group.allGather(mine);
  for (let r = 0; r < group.size; r++) {
    const rank = shapes[r * width];
    const dims = [...shapes.subarray(r * width + 1, r * width + Math.max(1, rank))];
    if (rank !== x.shape.length || dims.join() !== inner.join()) {
      throw new RangeError(
        `gather: rank ${r} has trailing shape [${dims}], this rank [${inner}]; ` +
          `call padAcrossProcesses first`,
      );
    }
  }
  const { data, counts } = await group.allGatherV(x.data);
  const per = inner.reduce((a, b) => a * b, 1);
  const rows = counts.reduce((s, c) => s + c, 0) / Math.max(1, per);
  return { data, shape: [rows, ...inner] };
}

/**
 * Pads dimension `dim` of every rank's array to the largest size across ranks with `padIndex` (at the
 * end, or at the start with `padFirst`), as HF `pad_across_processes`; the other dimensions must agree.
 */
export async function padAcrossProcesses<A extends CommArray>(
  group: ProcessGroup,
  x: HostTensor<A>,
  opts: { dim?: number; padIndex?: number; padFirst?: boolean } = {},
): Promise<HostTensor<A>> {
  _check(x, "padAcrossProcesses");
  const dim = opts.dim ?? 0;
  if (!(dim >= 0 && dim < x.shape.length)) {
    throw new RangeError(`padAcrossProcesses: dim ${dim} out of range for shape [${x.shape}]`);
  }
  const size = Int32Array.of(x.shape[dim]);
  await group.allReduce(size, "max");
  const target = size[0];
  if (target === x.shape[dim]) return { data: x.data.slice() as A, shape: [...x.shape] };
  const outer = x.shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const shape = [...x.shape];
  shape[dim] = target;
  const out = new (x.data.constructor as new (n: number) => A)(outer * target * inner);
  out.fill(opts.padIndex ?? 0);
  const have = x.shape[dim] * inner, row = target * inner;
  for (let o = 0; o < outer; o++) {
    const at = o * row + (opts.padFirst ? row - have : 0);
    out.set(x.data.subarray(o * have, (o + 1) * have), at);
  }
  return { data: out, shape };
}

/**
 * A gradient all-reduce that overlaps the backward pass: the tape reports each parameter whose gradient
 * is final ({@link ready}, from `backward`'s `onGradReady`); full buckets have their readback queued into
 * the GPU stream at once, so it completes while the GPU still computes earlier layers, and each bucket is
 * all-reduced on MPI's thread as soon as its copy lands. At most `maxInFlight` buckets are on the host at
 * a time; {@link finish} sends the rest (and any parameter the pass did not report) and writes the means
 * back. Every rank must report the same parameters in the same order (the same graph does).
 */
export class OverlappedGradientSync {
  readonly #group: ProcessGroup;
  readonly #bucketBytes: number;
  readonly #maxInFlight: number;
  #current: Tensor[] = [];
  #currentBytes = 0;
  #queued: Tensor[][] = [];
  #inFlight = 0;
  #done: Promise<void>[] = [];
  #seen = new Set<Tensor>();

  /** A sync over `group` with buckets of `bucketBytes`. */
  constructor(group: ProcessGroup, bucketBytes = DEFAULT_BUCKET_BYTES, maxInFlight = 4) {
    this.#group = group;
    this.#bucketBytes = bucketBytes;
    this.#maxInFlight = maxInFlight;
  }

  /** Reports a parameter whose gradient is final. */
  ready(param: Tensor): void {
    const g = param.grad;
    if (!g || this.#seen.has(param)) return;
    this.#seen.add(param);
    if (this.#current.length && this.#currentBytes + g.byteLength > this.#bucketBytes) this.#close();
    this.#current.push(g);
    this.#currentBytes += g.byteLength;
  }

  #close(): void {
    if (!this.#current.length) return;
    this.#queued.push(this.#current);
    this.#current = [];
    this.#currentBytes = 0;
    this.#pump();
  }

  #pump(): void {
    while (this.#inFlight < this.#maxInFlight && this.#queued.length) {
      const bucket = this.#queued.shift()!;
      this.#inFlight++;
      const read = _readBucket(bucket); // the copy is queued now, behind the kernels encoded so far
      this.#done.push(read.then(async (flat) => {
        await this.#group.allReduce(flat, "sum");
        const scale = 1 / this.#group.size;
        for (let i = 0; i < flat.length; i++) flat[i] *= scale;
        _writeBucket(bucket, flat);
        this.#inFlight--;
        this.#pump();
      }));
    }
  }

  /** Sends what is left (`params` not reported, in order), waits for every bucket, writes the means back. */
  async finish(params: readonly Tensor[]): Promise<void> {
    for (const p of params) this.ready(p);
    this.#close();
    // Each finished bucket starts the next queued one (pushing its promise) before it resolves.
    while (this.#done.length) await Promise.all(this.#done.splice(0));
  }
}
