/**
 * Hand-made logits for the pipeline's logic tests (no GPU): label rows with chosen probabilities, a scorer
 * keyed to token strings, and a "capitalised words are entities" scorer that only sees its window (so it
 * behaves like a model at window borders: a word cut by the border loses its label, the first word of a
 * window cannot know it continues an entity).
 * @module
 */
import type { WordTokenizer } from "../../src/data/tokenizer.ts";
import type { ScoreBatch, TokenScorer } from "../../src/pipeline/types.ts";

/** CoNLL-2003 labels, in the fixtures' order. */
export const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

/** Logits whose softmax is exactly the given probabilities (others 0): `log p`, −1e4 for p = 0. */
export function logitsRow(probs: Record<string, number>, labels = LABELS): number[] {
  for (const k of Object.keys(probs)) if (!labels.includes(k)) throw new Error(`unknown label ${k}`);
  return labels.map((l) => (probs[l] ?? 0) > 0 ? Math.log(probs[l]) : -1e4);
}

/** Stacks rows into (N, L) logits. */
export function logitsOf(rows: Record<string, number>[]): Float32Array {
  return Float32Array.from(rows.flatMap((r) => logitsRow(r)));
}

/** Every scorer call, for assertions about batching and padding. */
export interface Calls {
  batches: ScoreBatch[];
}

/**
 * A scorer labelling each position with `label(tokens, i)` (tokens of the row, padding excluded): logit 5
 * for that label, 0 for the others (probability e⁵/(e⁵+8)). Padded positions get NaN logits, so any use of
 * padding shows up.
 */
export function tokenScorer(
  tokenizer: WordTokenizer,
  label: (tokens: string[], i: number) => string,
  calls?: Calls,
  maxLength?: number,
): TokenScorer {
  return {
    labels: LABELS,
    maxLength,
    score(batch: ScoreBatch) {
      calls?.batches.push(batch);
      const { batch: B, seqLen: T } = batch;
      const out = new Float32Array(B * T * LABELS.length).fill(NaN);
      for (let b = 0; b < B; b++) {
        const tokens: string[] = [];
        for (let t = 0; t < T && batch.attentionMask[b * T + t] === 1; t++) {
          tokens.push(tokenizer.idToToken(batch.inputIds[b * T + t])!);
        }
        tokens.forEach((_, i) => {
          const id = LABELS.indexOf(label(tokens, i));
          if (id < 0) throw new Error(`bad label for ${tokens[i]}`);
          for (let l = 0; l < LABELS.length; l++) out[(b * T + i) * LABELS.length + l] = l === id ? 5 : 0;
        });
      }
      return Promise.resolve(out);
    },
  };
}

/** Probability of the chosen label under {@link tokenScorer}, as float32. */
export const TOKEN_SCORER_P: number = Math.fround(Math.exp(5) / (Math.exp(5) + 8));

/** A label function from a token → label table (other tokens `O`). */
export function byToken(table: Record<string, string>): (tokens: string[], i: number) => string {
  return (tokens, i) => table[tokens[i]] ?? "O";
}

/**
 * "Capitalised words are entities", seeing only its own window: words are a piece plus its `##` pieces; a
 * word starting with an uppercase letter gets `type(word)` (null: not an entity), `B-` unless the previous
 * word of the window is an entity word of the same type, `I-` on its other pieces. A word whose pieces
 * start at the window's first content token with `##` (cut by the border) is labelled `O`.
 */
export function capitalised(type: (word: string) => string | null): (tokens: string[], i: number) => string {
  return (tokens, i) => {
    const words: { from: number; to: number; text: string }[] = [];
    for (let k = 0; k < tokens.length; k++) {
      const t = tokens[k];
      if (t.startsWith("##") && words.length > 0 && words[words.length - 1].to === k && k > 1) {
        words[words.length - 1].to = k + 1;
        words[words.length - 1].text += t.slice(2);
      } else words.push({ from: k, to: k + 1, text: t });
    }
    const w = words.findIndex((x) => x.from <= i && i < x.to);
    const word = words[w];
    const typeOf = (x: { text: string }) =>
      x.text.startsWith("##") || x.text.startsWith("[") || !/^\p{Lu}/u.test(x.text) ? null : type(x.text);
    const t = typeOf(word);
    if (t === null) return "O";
    if (i > word.from) return `I-${t}`;
    return w > 0 && typeOf(words[w - 1]) === t ? `I-${t}` : `B-${t}`;
  };
}
