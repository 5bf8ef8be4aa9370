/**
 * `Accelerator`: 🤗 Accelerate's object for the course's custom loop — `prepare`, `backward`,
 * `accumulate`, `gather`, `gatherForMetrics`, `padAcrossProcesses`, `waitForEveryone`, `unwrapModel`,
 * `save`, `print`, `isMainProcess`, `processIndex`, `numProcesses` — on one process by default (every
 * collective is the identity, no MPI) or on the processes `deno task launch` started (data parallel over
 * MPI: gradients averaged in buckets after the backward pass of every synchronising step, parameters
 * broadcast from rank 0 at `prepare`, a dropout stream per rank).
 *
 * Data loaders follow Accelerate's defaults (`split_batches=False`, `even_batches=True`; see
 * `src/dist/sharding.ts`): every rank sees the same shuffle, takes every `numProcesses`-th batch of the
 * per-device size, and the last round wraps around to the first examples so all ranks run the same number
 * of full batches. `gather` therefore returns those repeated examples too; `gatherForMetrics` drops them
 * (HF's `gather_for_metrics`), so metrics equal a single process's.
 * @module
 */
import { BatchLoader } from "../data/loader.ts";
import { type Batch, type CollatableExample, collate } from "../data/collator.ts";
import { backward as tapeBackward } from "../engine/tape.ts";
import { type DType, Tensor, tidy } from "../engine/tensor.ts";
import { AdamW, clipGradNorm } from "../ops/adamw.ts";
import { fill } from "../ops/elementwise.ts";
import type { DropoutSeeds } from "../ops/dropout.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { type CommArray, initProcessGroup, LocalGroup, type ProcessGroup } from "../dist/group.ts";
import {
  allReduceTensors,
  broadcastTensors,
  DEFAULT_BUCKET_BYTES,
  gatherHost,
  type HostTensor,
  padAcrossProcesses as padHost,
} from "../dist/collectives.ts";
import { evenBatches, rankBatches } from "../dist/sharding.ts";

/** What `prepare` needs of a model: its parameters (and dropout seeds, made per-rank). */
export interface AcceleratedModel {
  /** Parameters by name. */
  readonly params: Map<string, Tensor>;
  /** Dropout seed stream. */
  readonly seeds?: DropoutSeeds;
}

/** Options of the {@link Accelerator}. */
export interface AcceleratorOptions {
  /** Micro-batches per optimizer step (HF `gradient_accumulation_steps`, default 1). */
  gradientAccumulationSteps?: number;
  /** The process group (default: {@link initProcessGroup} in {@link Accelerator.create}, else local). */
  group?: ProcessGroup;
  /** All-reduce bucket size in bytes (default 25 MiB). */
  bucketBytes?: number;
}

/** A data loader sharded for this process by {@link Accelerator.prepare}. */
export class PreparedDataLoader<T extends CollatableExample> {
  /** The loader it wraps (global order, per-device batch size). */
  readonly loader: BatchLoader<T>;
  readonly #acc: Accelerator;

  /** Wraps `loader` for `acc`'s process. */
  constructor(loader: BatchLoader<T>, acc: Accelerator) {
    this.loader = loader;
    this.#acc = acc;
  }

  /** This process's batches of an epoch (example indices). */
  batchIndices(epoch = 0): Int32Array[] {
    const { numProcesses: w, processIndex: r } = this.#acc;
    if (w === 1) return this.loader.batchIndices(epoch);
    return rankBatches(evenBatches(this.loader.order(epoch), this.loader.options.batchSize, w), r, w);
  }

  /** Batches per epoch on this process. */
  get numBatches(): number {
    const w = this.#acc.numProcesses;
    if (w === 1) return this.loader.numBatches;
    const n = this.loader.examples.length;
    return Math.ceil(n / (this.loader.options.batchSize * w));
  }

  /** Same as {@link numBatches}. */
  get length(): number {
    return this.numBatches;
  }

  /** This process's collated batches of an epoch; tells the accelerator where the loader is. */
  *batches(epoch = 0): Generator<Batch> {
    const all = this.batchIndices(epoch);
    const b = this.loader.options.batchSize, w = this.#acc.numProcesses;
    const n = this.loader.examples.length;
    for (let i = 0; i < all.length; i++) {
      const last = i === all.length - 1;
      // Examples of the last round that are real (not wrapped around), over all ranks.
      const remainder = last && w > 1 ? n - i * b * w : -1;
      this.#acc._setLoaderState({ endOfDataloader: last, remainder });
      yield collate(Array.from(all[i], (k) => this.loader.examples[k]), this.loader.options);
    }
    this.#acc._setLoaderState({ endOfDataloader: false, remainder: -1 });
  }
}

/** An optimizer prepared by {@link Accelerator.prepare}: steps and zeroes only on synchronising steps. */
export class PreparedOptimizer {
  /** The wrapped optimizer. */
  readonly optimizer: AdamW;
  readonly #acc: Accelerator;

  /** Wraps `optimizer`. */
  constructor(optimizer: AdamW, acc: Accelerator) {
    this.optimizer = optimizer;
    this.#acc = acc;
  }

  /** `AdamW.step` when gradients are synchronised (HF skips it inside accumulation). */
  step(lr?: number, gradScale: Tensor | null = null): void {
    if (this.#acc.syncGradients) this.optimizer.step(lr, gradScale);
  }

  /** `AdamW.zeroGrad` when gradients are synchronised. */
  zeroGrad(): void {
    if (this.#acc.syncGradients) this.optimizer.zeroGrad();
  }
}

/** What `prepare` returns for each argument. */
export type Prepared<T> = T extends BatchLoader<infer E> ? PreparedDataLoader<E>
  : T extends AdamW ? PreparedOptimizer
  : T;

/** The Accelerate object. */
export class Accelerator {
  /** The process group the collectives run on. */
  readonly group: ProcessGroup;
  /** Micro-batches per optimizer step. */
  readonly gradientAccumulationSteps: number;
  readonly #bucketBytes: number;
  #models: AcceleratedModel[] = [];
  #step = 0;
  #sync = true;
  #loader = { endOfDataloader: false, remainder: -1 };

  /** A single-process accelerator unless `group` is given; see {@link Accelerator.create}. */
  constructor(opts: AcceleratorOptions = {}) {
    this.group = opts.group ?? new LocalGroup();
    this.gradientAccumulationSteps = opts.gradientAccumulationSteps ?? 1;
    if (!(Number.isInteger(this.gradientAccumulationSteps) && this.gradientAccumulationSteps >= 1)) {
      throw new RangeError(`gradientAccumulationSteps must be a positive integer`);
    }
    this.#bucketBytes = opts.bucketBytes ?? DEFAULT_BUCKET_BYTES;
  }

  /** An accelerator on this process's group: MPI when launched with several processes, else local. */
  static async create(opts: AcceleratorOptions = {}): Promise<Accelerator> {
    return new Accelerator({ ...opts, group: opts.group ?? await initProcessGroup() });
  }

  /** Number of processes. */
  get numProcesses(): number {
    return this.group.size;
  }

  /** This process's index. */
  get processIndex(): number {
    return this.group.rank;
  }

  /** This process's index on its host. */
  get localProcessIndex(): number {
    return this.group.localRank;
  }

  /** True on process 0. */
  get isMainProcess(): boolean {
    return this.group.rank === 0;
  }

  /** True on the first process of each host. */
  get isLocalMainProcess(): boolean {
    return this.group.localRank === 0;
  }

  /** True when this micro-batch ends an optimizer step (gradients get all-reduced, the optimizer steps). */
  get syncGradients(): boolean {
    return this.#sync;
  }

  /** @internal Set by prepared loaders while they iterate. */
  _setLoaderState(s: { endOfDataloader: boolean; remainder: number }): void {
    this.#loader = s;
  }

  /**
   * Prepares objects for this process, returning them in order: a model's parameters are broadcast from
   * process 0 and its dropout stream made per-process; an AdamW becomes a {@link PreparedOptimizer}; a
   * BatchLoader a {@link PreparedDataLoader}; anything else is returned as is.
   */
  async prepare<T extends unknown[]>(...objects: T): Promise<{ [K in keyof T]: Prepared<T[K]> }> {
    const out: unknown[] = [];
    for (const o of objects) {
      if (o instanceof BatchLoader) out.push(new PreparedDataLoader(o, this));
      else if (o instanceof AdamW) out.push(new PreparedOptimizer(o, this));
      else if (o && typeof o === "object" && (o as AcceleratedModel).params instanceof Map) {
        const m = o as AcceleratedModel;
        await broadcastTensors(this.group, [...m.params.values()], 0, this.#bucketBytes);
        m.seeds?.setStream(this.processIndex);
        this.#models.push(m);
        out.push(o);
      } else out.push(o);
    }
    return out as { [K in keyof T]: Prepared<T[K]> };
  }

  /**
   * HF `accumulate(model)`: runs one micro-batch; gradients synchronise (and the prepared optimizer
   * steps) every `gradientAccumulationSteps` calls and at the end of a data loader.
   */
  async accumulate<R>(_model: AcceleratedModel, fn: () => R | Promise<R>): Promise<R> {
    this.#step++;
    this.#sync = this.#step % this.gradientAccumulationSteps === 0 || this.#loader.endOfDataloader;
    try {
      return await fn();
    } finally {
      if (this.#loader.endOfDataloader) this.#step = 0;
    }
  }

  /**
   * Back-propagates `loss` (divided by `gradientAccumulationSteps`, as HF does), then on a synchronising
   * step averages the prepared models' gradients over the processes (bucketed all-reduce).
   */
  async backward(loss: Tensor): Promise<void> {
    const k = this.gradientAccumulationSteps;
    tidy(() => tapeBackward(loss, k === 1 ? undefined : fill([1], 1 / k)));
    if (this.#sync && this.numProcesses > 1) {
      const grads = this.#models.flatMap((m) => [...m.params.values()].map((p) => p.grad).filter((g) => !!g));
      await allReduceTensors(this.group, grads as Tensor[], { bucketBytes: this.#bucketBytes });
    }
  }

  /** `clip_grad_norm_`: the global gradient norm and the clip scale for `optimizer.step(lr, scale)`. */
  clipGradNorm(params: Tensor[], maxNorm: number): { norm: Tensor; scale: Tensor } {
    return clipGradNorm(params, maxNorm);
  }

  async #host(x: Tensor | HostTensor): Promise<HostTensor> {
    if (x instanceof Tensor) return { data: await x.read(), shape: [...x.shape] };
    return x;
  }

  #like<X extends Tensor | HostTensor>(x: X, h: HostTensor): X {
    if (!(x instanceof Tensor)) return h as X;
    return Tensor.from(h.data as Float32Array, h.shape, x.dtype as DType, `${x.name}.gathered`) as X;
  }

  /** Concatenates every process's `x` along dimension 0 (a GPU tensor or a host array with its shape). */
  async gather<X extends Tensor | HostTensor>(x: X): Promise<X> {
    return this.#like(x, await gatherHost(this.group, await this.#host(x)));
  }

  /** {@link gather}, without the examples the last round of a prepared loader repeated. */
  async gatherForMetrics<X extends Tensor | HostTensor>(x: X): Promise<X> {
    const g = await gatherHost(this.group, await this.#host(x));
    const keep = this.#loader.remainder;
    if (keep >= 0 && keep < g.shape[0]) {
      const per = g.shape.slice(1).reduce((a, b) => a * b, 1);
      g.data = g.data.slice(0, keep * per) as CommArray;
      g.shape = [keep, ...g.shape.slice(1)];
    }
    return this.#like(x, g);
  }

  /** Pads dimension `dim` to the largest size over processes with `padIndex` (HF `pad_across_processes`). */
  async padAcrossProcesses<X extends Tensor | HostTensor>(
    x: X,
    opts: { dim?: number; padIndex?: number; padFirst?: boolean } = {},
  ): Promise<X> {
    return this.#like(x, await padHost(this.group, await this.#host(x), opts));
  }

  /** Waits for every process (HF `wait_for_everyone`). */
  waitForEveryone(): Promise<void> {
    return this.group.barrier();
  }

  /** The model itself (nothing wraps it here). */
  unwrapModel<M>(model: M): M {
    return model;
  }

  /** Writes `data` to `path` atomically, on the main process only (HF `save`; use as `saveFunction`). */
  save = async (data: Uint8Array | string, path: string): Promise<void> => {
    if (this.isMainProcess) await writeFileAtomic(path, data);
  };

  /** `console.log` on the main process only. */
  print(...args: unknown[]): void {
    if (this.isMainProcess) console.log(...args);
  }

  /** HF `end_training`: a final barrier, then the process group ends (MPI_Finalize). */
  async endTraining(): Promise<void> {
    await this.group.barrier();
    this.group.finalize();
  }
}
