/**
 * Hugging Face's TokenClassificationPipeline post-processing as pure functions on host arrays: softmax
 * scores, `gather_pre_entities` (special tokens dropped; a token is a subword when its string length differs
 * from its text span, as HF decides for WordPiece tokenizers, or, for BPE/Unigram tokenizers, when no space
 * touches its start — HF's fallback heuristic; `[UNK]` never is), `aggregate_words` /
 * `aggregate_word` (`first`, `average`, `max` decide one label per whole word), `group_entities` (adjacent
 * tokens or words of the same type merge unless the next one starts with `B-`; labels without a B-/I- prefix
 * count as `I-`) and the `ignore_labels` filter applied after grouping. `word` is HF's by default: the token
 * string for `none` (`##yl`; the text span for an unknown token), the tokenizer's decoding of the group's
 * tokens (or words) otherwise (see {@link WordOptions}); `word: "slice"` gives `text.slice(start, end)`.
 * @module
 */
import type { AggregationStrategy, GroupedEntity, TokenEntity } from "./types.ts";

/** A non-special token with its softmax scores, ready for aggregation (HF's "pre-entity"). */
export interface PreEntity {
  /** The token string (`##yl`). */
  token: string;
  /** Probability per label id. */
  scores: Float32Array;
  /** Start of the token in the text. */
  start: number;
  /** End (exclusive) of the token in the text. */
  end: number;
  /** Position in the encoded sequence (`[CLS]` is 0). */
  index: number;
  /** Whether the token continues the previous token's word. */
  isSubword: boolean;
  /** Whether the token is the unknown token (its `word` is then its text span, as in HF). */
  isUnknown?: boolean;
}

/**
 * How entities get their `word`: `"decoded"` (default, HF's): the token string for `none`, the tokenizer
 * decoder's `convert_tokens_to_string` of the grouped tokens/words otherwise; `"slice"`:
 * `text.slice(start, end)`. `decode` is the tokenizer's decoder (default: WordPiece's, `##` joined, spaces
 * between words).
 */
export interface WordOptions {
  word?: "decoded" | "slice";
  decode?: (tokens: string[]) => string;
}

/** WordPiece's decoder with cleanup (the default of {@link WordOptions.decode}). */
export function decodeWordPiece(tokens: string[], prefix = "##"): string {
  // As tokenizers' WordPiece decoder: the first token is kept whole; later ones lose the prefix or get a
  // space; cleanup runs per token.
  return tokens.map((t, i) => {
    const piece = i === 0 ? t : t.startsWith(prefix) ? t.slice(prefix.length) : ` ${t}`;
    return piece.replaceAll(" .", ".").replaceAll(" ?", "?").replaceAll(" !", "!").replaceAll(" ,", ",")
      .replaceAll(" ' ", "'").replaceAll(" n't", "n't").replaceAll(" 'm", "'m").replaceAll(
        " do not",
        " don't",
      )
      .replaceAll(" 's", "'s").replaceAll(" 've", "'ve").replaceAll(" 're", "'re");
  }).join("");
}

/** Tokens of one text to gather: strings, spans and the position of each in the encoded sequence. */
export interface TokenSpans {
  /** Token strings (special tokens excluded). */
  readonly tokens: readonly string[];
  /** `[start, end)` of each token in the text. */
  readonly offsets: readonly (readonly [number, number])[];
  /** Sequence index of each token (default `i + 1`, after `[CLS]`). */
  readonly indices?: readonly number[];
}

/** Row-wise softmax of (N, L) logits, computed in float64 and stored as float32 (HF: numpy on f32). */
export function softmaxRows(logits: Float32Array, numLabels: number): Float32Array {
  if (numLabels < 1 || logits.length % numLabels !== 0) {
    throw new RangeError(`${logits.length} logits is not a multiple of ${numLabels} labels`);
  }
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length; r += numLabels) {
    let max = -Infinity;
    for (let j = 0; j < numLabels; j++) max = Math.max(max, logits[r + j]);
    let sum = 0;
    for (let j = 0; j < numLabels; j++) sum += Math.exp(logits[r + j] - max);
    for (let j = 0; j < numLabels; j++) out[r + j] = Math.exp(logits[r + j] - max) / sum;
  }
  return out;
}

/** Index of the largest value (the first one on ties, like numpy's argmax). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function _nanmean(values: readonly number[]): number {
  let sum = 0, n = 0;
  for (const v of values) {
    if (!Number.isNaN(v)) {
      sum += v;
      n++;
    }
  }
  return n === 0 ? NaN : Math.fround(sum / n);
}

/** How {@link gatherPreEntities} decides subwords for tokenizers that are not word-aware. */
export interface SubwordRule {
  /**
   * The text the offsets point into. With it, the tokenizer is treated as HF treats one whose model has no
   * `continuing_subword_prefix` (BPE, Unigram): a token is a subword when `start > 0` and the text
   * `[start - 1, start + 1)` holds no space (`is_subword = start_ind > 0 and " " not in
   * sentence[start_ind - 1 : start_ind + 1]`). Without it, the WordPiece rule applies.
   */
  text?: string;
}

/**
 * HF's `gather_pre_entities` for one text: pairs each token with its row of `probabilities` (N, L) and
 * decides `isSubword`: for a word-aware (WordPiece) tokenizer, token length ≠ span length; otherwise (pass
 * `rule.text`) HF's space heuristic; never for `unkToken`.
 */
export function gatherPreEntities(
  spans: TokenSpans,
  probabilities: Float32Array,
  numLabels: number,
  unkToken = "[UNK]",
  rule: SubwordRule = {},
): PreEntity[] {
  const n = spans.tokens.length;
  if (spans.offsets.length !== n || probabilities.length !== n * numLabels) {
    throw new RangeError(
      `${n} tokens, ${spans.offsets.length} offsets and ${probabilities.length} scores for ${numLabels} labels`,
    );
  }
  return spans.tokens.map((token, i) => {
    const [start, end] = spans.offsets[i];
    return {
      token,
      scores: probabilities.subarray(i * numLabels, (i + 1) * numLabels),
      start,
      end,
      index: spans.indices?.[i] ?? i + 1,
      isSubword: token !== unkToken &&
        (rule.text === undefined
          ? token.length !== end - start
          : start > 0 && !rule.text.slice(start - 1, start + 1).includes(" ")),
      isUnknown: token === unkToken,
    };
  });
}

/** A token or word with its decided label, before grouping. */
export interface LabelledSpan {
  /** The label (`B-PER`, `O`, …). */
  entity: string;
  /** Its probability. */
  score: number;
  /** Start in the text. */
  start: number;
  /** End (exclusive) in the text. */
  end: number;
  /** HF's `word` of the token or word (decoded), when known. */
  word?: string;
}

/** HF's `word` of one pre-entity: the token string, or the text span of an unknown token. */
function _tokenWord(p: PreEntity, text: string): string {
  return p.isUnknown ? text.slice(p.start, p.end) : p.token;
}

/** HF's `aggregate_word`: one label for a whole word from its tokens' scores. */
function _aggregateWord(
  tokens: PreEntity[],
  labels: readonly string[],
  strategy: AggregationStrategy,
  word?: (tokens: PreEntity[]) => string,
): LabelledSpan {
  let scores: ArrayLike<number>;
  if (strategy === "first") scores = tokens[0].scores;
  else if (strategy === "max") {
    let best = tokens[0];
    for (const t of tokens) if (t.scores[argmax(t.scores)] > best.scores[argmax(best.scores)]) best = t;
    scores = best.scores;
  } else if (strategy === "average") {
    scores = Array.from(tokens[0].scores, (_, j) => _nanmean(tokens.map((t) => t.scores[j])));
  } else throw new RangeError(`"${strategy}" is not a word aggregation strategy`);
  const id = argmax(scores);
  return {
    entity: labels[id],
    score: scores[id],
    start: tokens[0].start,
    end: tokens[tokens.length - 1].end,
    ...(word ? { word: word(tokens) } : {}),
  };
}

/** HF's `aggregate_words`: splits tokens into words at non-subword tokens and labels each word. */
export function aggregateWords(
  pre: readonly PreEntity[],
  labels: readonly string[],
  strategy: "first" | "average" | "max",
  word?: (tokens: PreEntity[]) => string,
): LabelledSpan[] {
  const words: LabelledSpan[] = [];
  let group: PreEntity[] = [];
  for (const p of pre) {
    if (group.length > 0 && !p.isSubword) {
      words.push(_aggregateWord(group, labels, strategy, word));
      group = [];
    }
    group.push(p);
  }
  if (group.length > 0) words.push(_aggregateWord(group, labels, strategy, word));
  return words;
}

/** HF's `get_tag`: `B-X` → ["B", "X"], `I-X` → ["I", "X"], anything else → ["I", label]. */
export function splitTag(label: string): ["B" | "I", string] {
  if (label.startsWith("B-")) return ["B", label.slice(2)];
  if (label.startsWith("I-")) return ["I", label.slice(2)];
  return ["I", label];
}

/**
 * HF's `group_entities`: merges adjacent labelled tokens/words while the type stays the same and the next
 * one is not `B-`; the group's type is its first label after the first `-`, its score the mean. With
 * `decode`, the group's `word` is the decoding of its members' `word`s (HF's `convert_tokens_to_string`);
 * without, the text span.
 */
export function groupEntities(
  entities: readonly LabelledSpan[],
  text: string,
  decode?: (tokens: string[]) => string,
): GroupedEntity[] {
  const out: GroupedEntity[] = [];
  let group: LabelledSpan[] = [];
  const flush = () => {
    if (group.length === 0) return;
    const label = group[0].entity;
    const dash = label.indexOf("-");
    const start = group[0].start, end = group[group.length - 1].end;
    out.push({
      entity_group: dash < 0 ? label : label.slice(dash + 1),
      score: _nanmean(group.map((e) => e.score)),
      word: decode ? decode(group.map((e) => e.word ?? text.slice(e.start, e.end))) : text.slice(start, end),
      start,
      end,
    });
    group = [];
  };
  for (const e of entities) {
    if (group.length > 0) {
      const [bi, tag] = splitTag(e.entity);
      const [, lastTag] = splitTag(group[group.length - 1].entity);
      if (!(tag === lastTag && bi !== "B")) flush();
    }
    group.push(e);
  }
  flush();
  return out;
}

/**
 * HF's `aggregate` + ignore filter: the entities of one text for a strategy, in text order. `none` gives
 * one {@link TokenEntity} per token, the others {@link GroupedEntity}s; labels in `ignoreLabels` (default
 * `["O"]`) are dropped after grouping (compared with `entity` for `none`, `entity_group` otherwise);
 * `words` chooses HF's decoded `word` (default) or the text slice.
 */
export function aggregate(
  text: string,
  pre: readonly PreEntity[],
  labels: readonly string[],
  strategy: AggregationStrategy,
  ignoreLabels: readonly string[] = ["O"],
  words: WordOptions = {},
): TokenEntity[] | GroupedEntity[] {
  const ignore = new Set(ignoreLabels);
  const sliced = words.word === "slice";
  if (!sliced && words.word !== undefined && words.word !== "decoded") {
    throw new RangeError(`unknown word mode "${words.word}" (decoded, slice)`);
  }
  const decode = sliced ? undefined : words.decode ?? ((t: string[]) => decodeWordPiece(t));
  if (strategy === "none" || strategy === "simple") {
    const tokens: TokenEntity[] = pre.map((p) => {
      const id = argmax(p.scores);
      return {
        entity: labels[id],
        score: p.scores[id],
        index: p.index,
        word: sliced ? text.slice(p.start, p.end) : _tokenWord(p, text),
        start: p.start,
        end: p.end,
      };
    });
    if (strategy === "none") return tokens.filter((t) => !ignore.has(t.entity));
    return groupEntities(tokens, text, decode).filter((g) => !ignore.has(g.entity_group));
  }
  if (strategy !== "first" && strategy !== "average" && strategy !== "max") {
    throw new RangeError(`unknown aggregation strategy "${strategy}" (none, simple, first, average, max)`);
  }
  const word = decode ? (ts: PreEntity[]) => decode(ts.map((t) => _tokenWord(t, text))) : undefined;
  return groupEntities(aggregateWords(pre, labels, strategy, word), text, decode).filter((g) =>
    !ignore.has(g.entity_group)
  );
}
