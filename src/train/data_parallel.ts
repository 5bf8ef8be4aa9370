/**
 * The Trainer's data parallelism and loss normalisation, kept out of the Trainer's loop:
 *
 * - Sharding: Accelerate's rule (`src/dist/sharding.ts`): the epoch's global order cut into per-device
 *   batches, batch `j` to rank `j % size`, the last round wrapped around (single process: unchanged).
 *   Micro-batch `m` of optimizer step `s` on rank `r` is global batch `(s·accum + m)·size + r`.
 * - Loss normalisation (HF Trainer's `num_items_in_batch`): every micro-batch's mean loss is weighted by
 *   its labelled-token count over the labelled tokens of the whole step — all accumulation micro-batches on
 *   all ranks — so the step's gradient is the global token mean: 2 ranks × batch b, batch b × 2
 *   accumulation steps and 1 × batch 2b give the same update up to fp32 summation order. Every rank knows
 *   the global order, so the count needs no communication.
 * - Gradients are averaged over ranks in 25 MiB buckets after the backward pass (a bucket's readback
 *   overlaps the previous bucket's all-reduce; overlap with the backward pass itself exists but is off,
 *   see {@link DataParallel.gradientSync}); parameters are broadcast from rank 0 before training; each
 *   rank draws its own dropout stream.
 * - Evaluation: batch `j` of the dataset-order eval batches to rank `j % size` (no duplicates), results
 *   gathered once at the end so every rank computes the same seqeval numbers.
 * @module
 */
import type { BatchLoader } from "../data/loader.ts";
import type { TokenizedExample } from "../data/prepare.ts";
import type { Tensor } from "../engine/tensor.ts";
import type { DropoutSeeds } from "../ops/dropout.ts";
import { LocalGroup, type ProcessGroup } from "../dist/group.ts";
import {
  allReduceTensors,
  broadcastTensors,
  DEFAULT_BUCKET_BYTES,
  OverlappedGradientSync,
} from "../dist/collectives.ts";
import { evenBatches, rankBatches } from "../dist/sharding.ts";

/** Labelled (not −100) positions of an example. */
export function labelledTokens(ex: TokenizedExample): number {
  const labels = ex.labels;
  if (!labels) return 0;
  let n = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] !== -100) n++;
  return n;
}

/** Data-parallel bookkeeping of one Trainer. */
export class DataParallel {
  /** The process group (local for a single process). */
  readonly group: ProcessGroup;
  readonly #loader: BatchLoader<TokenizedExample>;
  readonly #accum: number;
  readonly #bucketBytes: number;
  #epoch = -1;
  #global: Int32Array[] = [];
  #counts: Int32Array = new Int32Array(0);

  /** Shards `loader` over `group` for steps of `accum` micro-batches. */
  constructor(
    loader: BatchLoader<TokenizedExample>,
    accum: number,
    group: ProcessGroup = new LocalGroup(),
    bucketBytes = DEFAULT_BUCKET_BYTES,
  ) {
    this.group = group;
    this.#bucketBytes = bucketBytes;
    this.#loader = loader;
    this.#accum = accum;
  }

  /** Number of processes. */
  get size(): number {
    return this.group.size;
  }

  /** True on rank 0 (writes files, shows progress). */
  get isMain(): boolean {
    return this.group.rank === 0;
  }

  /** This rank's micro-batches per epoch. */
  get localBatches(): number {
    const w = this.group.size;
    if (w === 1) return this.#loader.numBatches;
    return Math.ceil(this.#loader.examples.length / (this.#loader.options.batchSize * w));
  }

  #ensure(epoch: number): void {
    if (epoch === this.#epoch) return;
    this.#epoch = epoch;
    const w = this.group.size;
    this.#global = w === 1
      ? this.#loader.batchIndices(epoch)
      : evenBatches(this.#loader.order(epoch), this.#loader.options.batchSize, w);
    const ex = this.#loader.examples;
    this.#counts = Int32Array.from(this.#global, (b) => b.reduce((s, i) => s + labelledTokens(ex[i]), 0));
  }

  /** This rank's batches (example indices) of an epoch. */
  batchIndices(epoch: number): Int32Array[] {
    this.#ensure(epoch);
    return rankBatches(this.#global, this.group.rank, this.group.size);
  }

  /**
   * The loss weight of each local micro-batch `[first, first + count)` of an epoch: its labelled tokens
   * over the labelled tokens of the whole step on every rank (0 when the step has none). The backward
   * pass scales by `weight × size`, since the gradient all-reduce averages over ranks.
   */
  stepWeights(epoch: number, first: number, count: number): number[] {
    this.#ensure(epoch);
    const w = this.group.size;
    let total = 0;
    for (let m = first; m < first + count; m++) {
      for (let r = 0; r < w; r++) total += this.#counts[m * w + r] ?? 0;
    }
    const mine = (m: number) => this.#counts[m * w + this.group.rank];
    return Array.from({ length: count }, (_, k) => total ? mine(first + k) / total : 0);
  }

  /** Broadcasts the parameters from rank 0 and gives this rank its own dropout stream. */
  async prepareModel(params: Tensor[], seeds: DropoutSeeds): Promise<void> {
    await broadcastTensors(this.group, params);
    seeds.setStream(this.group.rank);
  }

  /** Averages the gradients over ranks after the backward pass (no-op for one process). */
  async syncGradients(params: Tensor[]): Promise<void> {
    if (this.group.size === 1) return;
    const grads = params.map((p) => p.grad).filter((g): g is Tensor => !!g);
    await allReduceTensors(this.group, grads, { bucketBytes: this.#bucketBytes });
  }

  /**
   * A gradient all-reduce to feed from the last micro-batch's backward pass (`onGradReady`), so buckets
   * are reduced while earlier layers' gradients are still computed — only with `overlap` (default off):
   * with Debian's MPICH 4.0.2 over UCX, an all-reduce on MPI's thread while the JS thread encodes the
   * backward pass crashed UCX (SIGSEGV) in about 1 run in 4, so the default reduces after the backward
   * pass ({@link syncGradients}; bucket k+1's readback still overlaps bucket k's all-reduce). Null when
   * not overlapping or for one process.
   */
  gradientSync(overlap = false): OverlappedGradientSync | null {
    return this.group.size === 1 || !overlap
      ? null
      : new OverlappedGradientSync(this.group, this.#bucketBytes);
  }

  /** Sums numbers over ranks (float64). */
  async sum(values: number[]): Promise<number[]> {
    if (this.group.size === 1) return values;
    const a = Float64Array.from(values);
    await this.group.allReduce(a, "sum");
    return [...a];
  }

  /** True when any rank says so (a stop request must end every rank at the same step). */
  async any(flag: boolean): Promise<boolean> {
    if (this.group.size === 1) return flag;
    const a = Int32Array.of(flag ? 1 : 0);
    await this.group.allReduce(a, "max");
    return a[0] === 1;
  }

  /** Waits for every rank. */
  barrier(): Promise<void> {
    return this.group.barrier();
  }

  /** Throws unless a checkpoint written by `saved` processes is resumed with the same number. */
  checkResume(dir: string, saved: number | undefined): void {
    const n = saved ?? 1;
    if (n !== this.group.size) {
      throw new Error(
        `cannot resume ${dir}: it was written by a run with ${n} process${
          n === 1 ? "" : "es"
        }, this run has ` +
          `${this.group.size}; resume with the same number (deno task launch --num-processes ${n} …)` +
          `${n === 1 ? " or plain deno task train" : ""}`,
      );
    }
  }

  /** This rank's share of the evaluation batches (no duplicates). */
  evalBatches(all: Int32Array[]): Int32Array[] {
    return rankBatches(all, this.group.rank, this.group.size);
  }

  /**
   * Gathers per-example predictions from every rank: `local` maps example index → predicted ids. Returns
   * the map for the whole eval set (identity for one process).
   */
  async gatherPredictions(local: Map<number, Int32Array>): Promise<Map<number, Int32Array>> {
    if (this.group.size === 1) return local;
    const keys = [...local.keys()];
    const head = Int32Array.from(keys.flatMap((k) => [k, local.get(k)!.length]));
    const body = new Int32Array(keys.reduce((s, k) => s + local.get(k)!.length, 0));
    let o = 0;
    for (const k of keys) {
      body.set(local.get(k)!, o);
      o += local.get(k)!.length;
    }
    const heads = (await this.group.allGatherV(head)).data;
    const bodies = (await this.group.allGatherV(body)).data;
    const out = new Map<number, Int32Array>();
    for (let i = 0, p = 0; i < heads.length; i += 2) {
      out.set(heads[i], bodies.slice(p, p + heads[i + 1]));
      p += heads[i + 1];
    }
    return out;
  }
}
