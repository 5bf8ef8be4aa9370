/**
 * Batching: a seeded shuffling loader (same seed → same order; a different order each epoch), sequential
 * order for evaluation, optional length-grouped sampling and `dropLast`, with the batch count known up front.
 * @module
 */
import { type Batch, type CollatableExample, collate, type CollateOptions } from "./collator.ts";

/** Loader options. */
export interface LoaderOptions extends CollateOptions {
  /** Sequences per batch. */
  readonly batchSize: number;
  /** Shuffle each epoch (training). Default false (evaluation: dataset order). */
  readonly shuffle?: boolean;
  /** Seed of the shuffle; default 42 (HF `TrainingArguments.seed`). */
  readonly seed?: number;
  /** Drop the last incomplete batch. Default false. */
  readonly dropLast?: boolean;
  /**
   * Group sequences of similar length to cut padding: with `shuffle`, a shuffled order is cut into
   * mega-batches of 50 batches, each sorted by decreasing length, and the batch holding the longest sequence
   * goes first (as HF's `group_by_length`); without `shuffle`, the order is by decreasing length.
   */
  readonly groupByLength?: boolean;
}

/** A 32-bit seeded generator (mulberry32) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seed for one epoch: a hash of the base seed and the epoch number. */
function _epochSeed(seed: number, epoch: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(epoch + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}

/** A seeded Fisher–Yates permutation of 0..n-1. */
export function permutation(n: number, random: () => number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

/** Iterates batches of examples. */
export class BatchLoader<T extends CollatableExample> {
  /** The examples, in dataset order. */
  readonly examples: readonly T[];
  /** The options in effect. */
  readonly options: LoaderOptions;
  /** Number of batches per epoch, known before iterating. */
  readonly numBatches: number;

  /**
   * Creates a loader over examples; batches are collated on demand.
   * @param examples tokenized examples, e.g. `tokenizeAndAlign(...).examples`
   */
  constructor(examples: readonly T[], options: LoaderOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
    }
    this.examples = examples;
    this.options = options;
    const n = examples.length;
    this.numBatches = options.dropLast ? Math.floor(n / options.batchSize) : Math.ceil(n / options.batchSize);
  }

  /** Number of batches per epoch (same as `numBatches`). */
  get length(): number {
    return this.numBatches;
  }

  /** The example order of an epoch (before cutting into batches). Deterministic in seed and epoch. */
  order(epoch = 0): Int32Array {
    const n = this.examples.length;
    const { shuffle = false, groupByLength = false, batchSize } = this.options;
    const length = (i: number) => this.examples[i].inputIds.length;
    if (!shuffle) {
      const order = Int32Array.from({ length: n }, (_, i) => i);
      return groupByLength ? order.sort((a, b) => length(b) - length(a) || a - b) : order;
    }
    const order = permutation(n, seededRandom(_epochSeed(this.options.seed ?? 42, epoch)));
    if (!groupByLength) return order;
    const mega = batchSize * 50;
    for (let start = 0; start < n; start += mega) {
      order.subarray(start, Math.min(n, start + mega)).sort((a, b) => length(b) - length(a));
    }
    // Put the batch holding the longest sequence first, so an out-of-memory failure shows at once.
    let longest = 0;
    for (let i = 1; i < n; i++) if (length(order[i]) > length(order[longest])) longest = i;
    const firstBatch = Math.floor(longest / batchSize) * batchSize;
    if (firstBatch > 0 && firstBatch + batchSize <= n) {
      const head = order.slice(0, batchSize);
      order.copyWithin(0, firstBatch, firstBatch + batchSize);
      order.set(head, firstBatch);
    }
    return order;
  }

  /** The example indices of each batch of an epoch (`numBatches` arrays). */
  batchIndices(epoch = 0): Int32Array[] {
    const order = this.order(epoch);
    const out: Int32Array[] = [];
    for (let b = 0; b < this.numBatches; b++) {
      out.push(
        order.slice(b * this.options.batchSize, Math.min(order.length, (b + 1) * this.options.batchSize)),
      );
    }
    return out;
  }

  /** Collated batches of an epoch. */
  *batches(epoch = 0): Generator<Batch> {
    for (const indices of this.batchIndices(epoch)) {
      yield collate(Array.from(indices, (i) => this.examples[i]), this.options);
    }
  }
}
