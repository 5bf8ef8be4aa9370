/**
 * Long texts: windows over a token sequence and the merge of their logits. Windows hold `size` content
 * tokens (special tokens are added around each) and overlap by `stride` tokens, as HF's
 * `return_overflowing_tokens=True, stride=…` cuts them (each window starts `size − stride` tokens after the
 * previous one; the last one ends at the end). The merge is per token: a token that several windows see
 * takes its logits from the window where it has the most context, i.e. the largest distance to a window
 * edge that is not also an edge of the text (ties: the earlier window). Aggregation then runs once over the
 * whole text, so an entity crossing a window border is neither lost nor duplicated.
 * @module
 */

/** Content-token range `[start, end)` of one window. */
export interface Window {
  /** First token. */
  start: number;
  /** One past the last token. */
  end: number;
}

/**
 * Windows covering `length` tokens, `size` tokens each, overlapping by `stride`. No window for an empty
 * sequence; one window when it fits.
 */
export function planWindows(length: number, size: number, stride = 0): Window[] {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`window size must be an integer >= 1, got ${size}`);
  }
  if (!Number.isInteger(stride) || stride < 0 || stride >= size) {
    throw new RangeError(
      `stride must be an integer in [0, ${
        size - 1
      }] (the tokens of a window without special tokens), got ${stride}`,
    );
  }
  const windows: Window[] = [];
  for (let start = 0; start < length; start += size - stride) {
    const end = Math.min(start + size, length);
    windows.push({ start, end });
    if (end === length) break;
  }
  return windows;
}

/**
 * Which window each token takes its logits from: the one maximising `min(left, right)` context, where an
 * edge that is also the text's edge counts as unlimited context. Returns a window index per token.
 */
export function assignTokens(length: number, windows: readonly Window[]): Int32Array {
  const owner = new Int32Array(length).fill(-1);
  const best = new Float64Array(length).fill(-1);
  windows.forEach((w, k) => {
    for (let i = w.start; i < w.end; i++) {
      const left = w.start === 0 ? Infinity : i - w.start;
      const right = w.end === length ? Infinity : w.end - 1 - i;
      const context = Math.min(left, right);
      if (context > best[i]) {
        best[i] = context;
        owner[i] = k;
      }
    }
  });
  const missing = owner.indexOf(-1);
  if (missing >= 0) throw new RangeError(`token ${missing} of ${length} is in no window`);
  return owner;
}

/**
 * Merges per-window logits (`windowLogits[k]` is (window k's length, L)) into (length, L) logits for the
 * whole sequence, each token from the window {@link assignTokens} picks.
 */
export function mergeWindowLogits(
  length: number,
  windows: readonly Window[],
  windowLogits: readonly Float32Array[],
  numLabels: number,
): Float32Array {
  if (windowLogits.length !== windows.length) {
    throw new RangeError(`${windowLogits.length} logit blocks for ${windows.length} windows`);
  }
  windows.forEach((w, k) => {
    if (windowLogits[k].length !== (w.end - w.start) * numLabels) {
      throw new RangeError(
        `window ${k} has ${windowLogits[k].length} logits, expected ${(w.end - w.start) * numLabels}`,
      );
    }
  });
  const owner = assignTokens(length, windows);
  const out = new Float32Array(length * numLabels);
  for (let i = 0; i < length; i++) {
    const w = windows[owner[i]];
    const row = (i - w.start) * numLabels;
    out.set(windowLogits[owner[i]].subarray(row, row + numLabels), i * numLabels);
  }
  return out;
}
