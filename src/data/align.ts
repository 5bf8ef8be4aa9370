/**
 * Word labels → token labels, the course's `align_labels_with_tokens`, driven by label *names* (B-/I-
 * prefixes) rather than `label % 2`, so any tag set works.
 * @module
 */

/** Label id used for tokens the loss ignores (special tokens, and non-first subtokens in that mode). */
export const IGNORE_INDEX: number = -100;

/** Alignment options. */
export interface AlignOptions {
  /**
   * Label only the first subtoken of each word (others get -100). Default false: the course's rule, where
   * continuation subtokens repeat the word's label with `B-X` turned into `I-X`.
   */
  readonly firstSubtokenOnly?: boolean;
}

/**
 * For each label id, the id continuation subtokens get: `I-X` for `B-X`, the label itself otherwise;
 * -1 where `B-X` has no `I-X` in the names (an error if such a word is ever split).
 */
export function continuationLabels(labelNames: readonly string[]): Int32Array {
  const index = new Map(labelNames.map((name, i) => [name, i]));
  return Int32Array.from(labelNames, (name, i) => {
    if (!name.startsWith("B-")) return i;
    return index.get("I-" + name.slice(2)) ?? -1;
  });
}

/**
 * Aligns word labels to tokens (the course's `align_labels_with_tokens`): special tokens (word id `null`)
 * get -100; the first token of a word gets the word's label; later tokens of the same word get the word's
 * label with `B-X` → `I-X` (or -100 with `firstSubtokenOnly`).
 * @param labels one class id per word
 * @param wordIds word id per token (`null` for special tokens), as from `encodeWords`
 * @param labelNames the ClassLabel names, used to map `B-X` to `I-X`
 * @param continuation optional precomputed {@linkcode continuationLabels} (saves work in loops)
 */
export function alignLabelsWithTokens(
  labels: ArrayLike<number>,
  wordIds: readonly (number | null)[],
  labelNames: readonly string[],
  options: AlignOptions = {},
  continuation: Int32Array = continuationLabels(labelNames),
): Int32Array {
  const out = new Int32Array(wordIds.length);
  let previous: number | null = null;
  for (let t = 0; t < wordIds.length; t++) {
    const word = wordIds[t];
    if (word === null) {
      out[t] = IGNORE_INDEX;
      previous = null;
      continue;
    }
    const label = labels[word];
    if (!Number.isInteger(label) || label < 0 || label >= labelNames.length) {
      throw new RangeError(`word ${word} has label ${label}, not a class id 0..${labelNames.length - 1}`);
    }
    if (word !== previous) {
      out[t] = label;
    } else if (options.firstSubtokenOnly) {
      out[t] = IGNORE_INDEX;
    } else {
      const next = continuation[label];
      if (next < 0) {
        throw new Error(
          `word ${word} is split into subtokens and labelled "${
            labelNames[label]
          }", but the label names have no ` +
            `"I-${labelNames[label].slice(2)}" for its continuation`,
        );
      }
      out[t] = next;
    }
    previous = word;
  }
  return out;
}
