/**
 * DataCollatorForTokenClassification: pads a list of examples to the longest (optionally rounded up to a
 * multiple) and returns flat row-major Int32Arrays plus their shape, ready for GPU upload.
 * @module
 */
import { IGNORE_INDEX } from "./align.ts";

/** What the collator needs from an example. */
export interface CollatableExample {
  /** Token ids. */
  readonly inputIds: ArrayLike<number>;
  /** Segment ids (default all 0). */
  readonly tokenTypeIds?: ArrayLike<number>;
  /** Aligned labels; either every example has them or none does. */
  readonly labels?: ArrayLike<number> | null;
  /** Source row index, carried into `Batch.rows` (default: position in the list). */
  readonly row?: number;
}

/** A padded batch; all arrays are row-major `[batchSize, seqLen]`. */
export interface Batch {
  /** Number of sequences. */
  readonly batchSize: number;
  /** Padded sequence length. */
  readonly seqLen: number;
  /** `[batchSize, seqLen]`. */
  readonly shape: readonly [number, number];
  /** Token ids, padded with the pad id. */
  readonly inputIds: Int32Array;
  /** 1 for real tokens, 0 for padding. */
  readonly attentionMask: Int32Array;
  /** Segment ids, padded with 0. */
  readonly tokenTypeIds: Int32Array;
  /** Labels padded with -100, or `null` if the examples have none. */
  readonly labels: Int32Array | null;
  /** Unpadded length of each sequence. */
  readonly lengths: Int32Array;
  /** Source row index of each sequence. */
  readonly rows: Int32Array;
}

/** Collator options. */
export interface CollateOptions {
  /** Id used to pad `inputIds` (the tokenizer's `padId`). */
  readonly padId: number;
  /** Round the padded length up to a multiple of this (e.g. 8). */
  readonly padToMultipleOf?: number;
  /** Value used to pad labels; default -100. */
  readonly labelPadId?: number;
}

/**
 * Pads `input_ids` with `padId`, `attention_mask` and `token_type_ids` with 0 and `labels` with -100 to the
 * longest sequence in the batch (HF `DataCollatorForTokenClassification`, right padding).
 */
export function collate(examples: readonly CollatableExample[], options: CollateOptions): Batch {
  if (examples.length === 0) throw new RangeError("cannot collate an empty batch");
  const multiple = options.padToMultipleOf;
  if (multiple !== undefined && (!Number.isInteger(multiple) || multiple < 1)) {
    throw new RangeError(`padToMultipleOf must be a positive integer, got ${multiple}`);
  }
  const withLabels = examples[0].labels != null;
  let longest = 0;
  examples.forEach((example, i) => {
    if ((example.labels != null) !== withLabels) {
      throw new Error(`example ${i} ${withLabels ? "lacks" : "has"} labels, unlike example 0`);
    }
    if (example.labels != null && example.labels.length !== example.inputIds.length) {
      throw new Error(
        `example ${i} has ${example.labels.length} labels for ${example.inputIds.length} tokens`,
      );
    }
    longest = Math.max(longest, example.inputIds.length);
  });
  const seqLen = multiple ? Math.ceil(longest / multiple) * multiple : longest;
  const batchSize = examples.length;
  const inputIds = new Int32Array(batchSize * seqLen).fill(options.padId);
  const attentionMask = new Int32Array(batchSize * seqLen);
  const tokenTypeIds = new Int32Array(batchSize * seqLen);
  const labels = withLabels
    ? new Int32Array(batchSize * seqLen).fill(options.labelPadId ?? IGNORE_INDEX)
    : null;
  const lengths = new Int32Array(batchSize);
  const rows = new Int32Array(batchSize);
  examples.forEach((example, b) => {
    const n = example.inputIds.length;
    const base = b * seqLen;
    inputIds.set(example.inputIds, base);
    attentionMask.fill(1, base, base + n);
    if (example.tokenTypeIds) tokenTypeIds.set(example.tokenTypeIds, base);
    if (labels && example.labels) labels.set(example.labels, base);
    lengths[b] = n;
    rows[b] = example.row ?? b;
  });
  return {
    batchSize,
    seqLen,
    shape: [batchSize, seqLen],
    inputIds,
    attentionMask,
    tokenTypeIds,
    labels,
    lengths,
    rows,
  };
}
