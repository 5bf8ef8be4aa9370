/**
 * From model outputs to tag strings. Two views of the same predictions:
 *
 * - subword level ({@link decodeSubwordLevel}): every position whose label is not -100 is scored, as the
 *   course's `compute_metrics`/`postprocess` do (with its label alignment, later subtokens of a word carry
 *   the word's `I-` tag and are scored too);
 * - word level ({@link decodeWordLevel}): one tag per word, read at the word's first subtoken and scored
 *   against the word's tag: the true CoNLL evaluation.
 * @module
 */

/** Label id that marks a position to ignore (special tokens, padding), as in PyTorch's cross-entropy. */
const _IGNORE_INDEX = -100;

/** Predicted and reference tags, sentence by sentence. */
export interface DecodedTags {
  /** Predicted tags per sequence. */
  predictions: string[][];
  /** Reference tags per sequence, aligned with `predictions`. */
  references: string[][];
}

/** Word-level tags plus how many reference words no subtoken covered (truncated away). */
export interface DecodedWords extends DecodedTags {
  /** Words in `references` that had no subtoken; their prediction is the `missing` tag. */
  unseenWords: number;
}

/**
 * Index of the largest value in each row of `numLabels` values (a flat `[..., numLabels]` array), like
 * `np.argmax(logits, axis=-1)`: the first index wins ties, and a NaN counts as the maximum.
 */
export function argmaxLastAxis(logits: ArrayLike<number>, numLabels: number): Int32Array {
  if (!Number.isInteger(numLabels) || numLabels <= 0) {
    throw new RangeError(`numLabels must be a positive integer, got ${numLabels}`);
  }
  if (logits.length % numLabels !== 0) {
    throw new RangeError(`logits has ${logits.length} values, not a multiple of numLabels = ${numLabels}`);
  }
  const rows = logits.length / numLabels;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    const base = r * numLabels;
    let best = 0;
    let bestValue = logits[base];
    if (!Number.isNaN(bestValue)) {
      for (let j = 1; j < numLabels; j++) {
        const v = logits[base + j];
        if (Number.isNaN(v)) {
          best = j;
          break;
        }
        if (v > bestValue) {
          best = j;
          bestValue = v;
        }
      }
    }
    out[r] = best;
  }
  return out;
}

/** Splits a flat `[rows, rowLength]` array into per-row views (typed arrays) or slices (plain arrays). */
export function splitRows<T extends ArrayLike<number>>(flat: T, rowLength: number): T[] {
  if (!Number.isInteger(rowLength) || rowLength <= 0 || flat.length % rowLength !== 0) {
    throw new RangeError(`cannot split ${flat.length} values into rows of ${rowLength}`);
  }
  const out: T[] = [];
  const sliceable = flat as unknown as {
    subarray?: (a: number, b: number) => T;
    slice?: (a: number, b: number) => T;
  };
  for (let i = 0; i < flat.length; i += rowLength) {
    if (typeof sliceable.subarray === "function") out.push(sliceable.subarray(i, i + rowLength));
    else if (typeof sliceable.slice === "function") out.push(sliceable.slice(i, i + rowLength));
    else out.push(Array.from({ length: rowLength }, (_, j) => flat[i + j]) as unknown as T);
  }
  return out;
}

function _name(labelNames: readonly string[], id: number, what: string, s: number, t: number): string {
  const name = Number.isInteger(id) ? labelNames[id] : undefined;
  if (name === undefined) {
    throw new RangeError(
      `sequence ${s}, position ${t}: ${what} ${id} is not a label index (expected 0..${
        labelNames.length - 1
      })`,
    );
  }
  return name;
}

function _checkRows(what: string, a: readonly unknown[], b: readonly unknown[], bName: string): void {
  if (a.length !== b.length) {
    throw new RangeError(`${what} has ${a.length} sequences but ${bName} has ${b.length}`);
  }
}

/**
 * Subword-level decoding, as the course's `postprocess`: for each sequence, keep the positions whose label
 * is not -100 and map both the predicted id and the label id to tag names.
 */
export function decodeSubwordLevel(
  predictions: readonly ArrayLike<number>[],
  labels: readonly ArrayLike<number>[],
  labelNames: readonly string[],
): DecodedTags {
  _checkRows("predictions", predictions, labels, "labels");
  const out: DecodedTags = { predictions: [], references: [] };
  predictions.forEach((pred, s) => {
    const lab = labels[s];
    if (pred.length !== lab.length) {
      throw new RangeError(
        `sequence ${s}: predictions has ${pred.length} positions but labels has ${lab.length}`,
      );
    }
    const p: string[] = [];
    const r: string[] = [];
    for (let t = 0; t < lab.length; t++) {
      if (lab[t] === _IGNORE_INDEX) continue;
      r.push(_name(labelNames, lab[t], "label", s, t));
      p.push(_name(labelNames, pred[t], "predicted id", s, t));
    }
    out.predictions.push(p);
    out.references.push(r);
  });
  return out;
}

/** Where word-level decoding takes the reference tags from. */
export interface WordLevelOptions {
  /**
   * Label ids aligned with the subtokens: the reference of a word is the label at its first subtoken
   * (a word whose first label is -100 is skipped).
   */
  labels?: readonly ArrayLike<number>[];
  /**
   * The original word tags, one list per sequence. Words no subtoken covers (cut off by truncation)
   * are then scored too, predicted as `missing`.
   */
  references?: readonly (readonly string[])[];
  /** Prediction for words no subtoken covers; default `"O"`. */
  missing?: string;
}

function _wordId(ids: ArrayLike<number | null | undefined>, t: number): number | undefined {
  const w = ids[t];
  return w === null || w === undefined || w < 0 ? undefined : w;
}

/**
 * Word-level decoding: for each sequence, the prediction of each word is the predicted id at the word's
 * first subtoken. `wordIds` gives, per position, the index of the word it belongs to (`null`, `undefined`
 * or a negative number for special tokens and padding), as a fast tokenizer's `word_ids()` does. Reference
 * tags come from `options.references` (word tags) or from `options.labels` (ids at first subtokens).
 */
export function decodeWordLevel(
  predictions: readonly ArrayLike<number>[],
  wordIds: readonly ArrayLike<number | null | undefined>[],
  labelNames: readonly string[],
  options: WordLevelOptions,
): DecodedWords {
  const { labels, references } = options;
  const missing = options.missing ?? "O";
  if ((labels === undefined) === (references === undefined)) {
    throw new Error("decodeWordLevel: give exactly one of options.labels and options.references");
  }
  _checkRows("predictions", predictions, wordIds, "wordIds");
  if (labels) _checkRows("predictions", predictions, labels, "labels");
  if (references) _checkRows("predictions", predictions, references, "references");
  const out: DecodedWords = { predictions: [], references: [], unseenWords: 0 };
  predictions.forEach((pred, s) => {
    const ids = wordIds[s];
    if (pred.length !== ids.length) {
      throw new RangeError(
        `sequence ${s}: predictions has ${pred.length} positions but wordIds has ${ids.length}`,
      );
    }
    if (labels && labels[s].length !== pred.length) {
      throw new RangeError(
        `sequence ${s}: predictions has ${pred.length} positions but labels has ${labels[s].length}`,
      );
    }
    const seen = new Set<number>();
    if (references) {
      const gold = [...references[s]];
      const p: string[] = new Array(gold.length).fill(missing);
      for (let t = 0; t < ids.length; t++) {
        const w = _wordId(ids, t);
        if (w === undefined || seen.has(w)) continue;
        seen.add(w);
        if (!Number.isInteger(w) || w >= gold.length) {
          throw new RangeError(
            `sequence ${s}, position ${t}: word id ${w} but the sequence has ${gold.length} reference words`,
          );
        }
        p[w] = _name(labelNames, pred[t], "predicted id", s, t);
      }
      out.unseenWords += gold.length - seen.size;
      out.predictions.push(p);
      out.references.push(gold);
      return;
    }
    const words: [number, string, string][] = [];
    const lab = labels![s];
    for (let t = 0; t < ids.length; t++) {
      const w = _wordId(ids, t);
      if (w === undefined || seen.has(w)) continue;
      seen.add(w);
      if (lab[t] === _IGNORE_INDEX) continue;
      words.push([
        w,
        _name(labelNames, pred[t], "predicted id", s, t),
        _name(labelNames, lab[t], "label", s, t),
      ]);
    }
    words.sort((a, b) => a[0] - b[0]);
    out.predictions.push(words.map((w) => w[1]));
    out.references.push(words.map((w) => w[2]));
  });
  return out;
}
