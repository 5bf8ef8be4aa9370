/**
 * `TokenClassificationPipeline`: raw texts (or pre-split words) → windows of token ids → padded batches →
 * logits from a {@link TokenScorer} → per-token logits merged across windows → softmax → HF aggregation.
 * Build one with {@link pipeline} (loads a model folder or Hub id) or directly from a scorer and tokenizer.
 * @module
 */
import type { WordTokenizer } from "../data/tokenizer.ts";
import { aggregate, argmax, gatherPreEntities, softmaxRows } from "./aggregate.ts";
import type { AggregationStrategy, EntityFor, ScoreBatch, TokenScorer } from "./types.ts";
import { AGGREGATION_STRATEGIES } from "./types.ts";
import { mergeWindowLogits, planWindows, type Window } from "./windows.ts";

/** Settings of a {@link TokenClassificationPipeline}. */
export interface TokenClassificationSettings<S extends AggregationStrategy = AggregationStrategy> {
  /** How tokens become entities (default `"none"`, as HF). */
  aggregationStrategy?: S;
  /** Labels (or entity groups) left out of the results (default `["O"]`). */
  ignoreLabels?: readonly string[];
  /**
   * Tokens of overlap between the windows of a text longer than `maxLength` (default 0: windows side by
   * side). Must be smaller than `maxLength` minus the special tokens.
   */
  stride?: number;
  /** Windows per scorer call (default 8). */
  batchSize?: number;
  /**
   * Window length with special tokens (default: the smallest of the tokenizer's `model_max_length` and the
   * scorer's `maxLength`).
   */
  maxLength?: number;
  /**
   * `word` of each entity: `"decoded"` (default, HF's: the token for `none`, the tokenizer's decoding of the
   * group otherwise) or `"slice"` (`text.slice(start, end)`). `start`/`end` are UTF-16 offsets either way.
   */
  word?: "decoded" | "slice";
}

/** Per-token predictions of one text, before aggregation. */
export interface TokenPrediction {
  /** The text. */
  text: string;
  /** Token strings, special tokens excluded. */
  tokens: readonly string[];
  /** Token ids, special tokens excluded. */
  inputIds: Int32Array;
  /** `[start, end)` of each token in the text (UTF-16 code units). */
  offsets: readonly (readonly [number, number])[];
  /** (tokens, labels) logits, each token's row taken from the window where it has the most context. */
  logits: Float32Array;
  /** (tokens, labels) softmax probabilities. */
  scores: Float32Array;
  /** The windows the text was scored in (content-token ranges). */
  windows: readonly Window[];
}

interface _Special {
  ids: number[];
  typeIds: number[];
}

interface _Job {
  seq: number;
  window: number;
  ids: Int32Array;
}

/** Whether a pre-entity is the unknown token standing for other text (not `[UNK]` typed in the text). */
function _unknownText(e: { isUnknown?: boolean; token: string; start: number; end: number }, text: string) {
  return e.isUnknown === true && text.slice(e.start, e.end) !== e.token;
}

/** A token-classification pipeline; see {@link pipeline}. `S` is its aggregation strategy (which fixes the entity shape). */
export class TokenClassificationPipeline<S extends AggregationStrategy = "none"> {
  /** The task name. */
  readonly task = "token-classification";
  /** The tokenizer. */
  readonly tokenizer: WordTokenizer;
  /** Where logits come from. */
  readonly scorer: TokenScorer;
  /** Label names by id. */
  readonly labels: readonly string[];
  /** The aggregation strategy. */
  readonly aggregationStrategy: S;
  /** Labels dropped from results. */
  readonly ignoreLabels: readonly string[];
  /** Tokens of overlap between windows. */
  readonly stride: number;
  /** Windows per scorer call. */
  readonly batchSize: number;
  /** Window length, special tokens included. */
  readonly maxLength: number;
  /** How entities get their `word` (see {@link TokenClassificationSettings.word}). */
  readonly word: "decoded" | "slice";
  readonly #prefix: _Special;
  readonly #suffix: _Special;
  readonly #sequenceTypeId: number;
  readonly #onDispose: (() => void) | undefined;

  /**
   * Builds a pipeline from a scorer and a tokenizer. `onDispose` runs on {@link dispose} (used to free a
   * model the pipeline loaded itself).
   */
  constructor(
    scorer: TokenScorer,
    tokenizer: WordTokenizer,
    settings: TokenClassificationSettings<S> = {},
    onDispose?: () => void,
  ) {
    this.scorer = scorer;
    this.tokenizer = tokenizer;
    this.labels = [...scorer.labels];
    if (this.labels.length === 0) throw new RangeError("the scorer has no labels");
    this.aggregationStrategy = (settings.aggregationStrategy ?? "none") as S;
    if (!AGGREGATION_STRATEGIES.includes(this.aggregationStrategy)) {
      throw new RangeError(
        `unknown aggregation strategy "${this.aggregationStrategy}" (${AGGREGATION_STRATEGIES.join(", ")})`,
      );
    }
    this.ignoreLabels = [...(settings.ignoreLabels ?? ["O"])];
    this.word = settings.word ?? "decoded";
    if (this.word !== "decoded" && this.word !== "slice") {
      throw new RangeError(`unknown word mode "${this.word}" (decoded, slice)`);
    }
    this.batchSize = settings.batchSize ?? 8;
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new RangeError(`batchSize must be an integer >= 1, got ${settings.batchSize}`);
    }
    this.maxLength = settings.maxLength ?? Math.min(tokenizer.modelMaxLength, scorer.maxLength ?? Infinity);
    if (scorer.maxLength !== undefined && this.maxLength > scorer.maxLength) {
      throw new RangeError(
        `maxLength ${this.maxLength} exceeds the model's limit of ${scorer.maxLength} tokens`,
      );
    }
    if (scorer.vocabSize !== undefined && tokenizer.vocabSize > scorer.vocabSize) {
      throw new RangeError(
        `the tokenizer (${tokenizer.source}) has ${tokenizer.vocabSize} tokens but the model only ` +
          `${scorer.vocabSize}: use the model's own tokenizer`,
      );
    }
    const probe = tokenizer.encodeText("a", { truncation: false });
    const first = probe.wordIds.findIndex((w) => w !== null);
    const last = probe.wordIds.findLastIndex((w) => w !== null);
    if (first < 0) throw new Error(`${tokenizer.source}: cannot find the special-token template`);
    const special = (from: number, to: number): _Special => ({
      ids: Array.from(probe.inputIds.subarray(from, to)),
      typeIds: Array.from(probe.tokenTypeIds.subarray(from, to)),
    });
    this.#prefix = special(0, first);
    this.#suffix = special(last + 1, probe.inputIds.length);
    this.#sequenceTypeId = probe.tokenTypeIds[first];
    const content = this.maxLength - this.#prefix.ids.length - this.#suffix.ids.length;
    if (!Number.isInteger(this.maxLength) || content < 1) {
      throw new RangeError(
        `maxLength must be an integer > ${this.maxLength - content}, got ${this.maxLength}`,
      );
    }
    this.stride = settings.stride ?? 0;
    planWindows(0, content, this.stride); // validates the stride
    this.#onDispose = onDispose;
  }

  /** Content tokens per window (`maxLength` minus the special tokens). */
  get windowSize(): number {
    return this.maxLength - this.#prefix.ids.length - this.#suffix.ids.length;
  }

  /** Entities of one text. */
  run(texts: string): Promise<EntityFor<S>[]>;
  /** Entities of each text, in order. */
  run(texts: readonly string[]): Promise<EntityFor<S>[][]>;
  /** Entities of one text, or of each text of a list (HF's `ner(text)` / `ner([a, b])`). */
  async run(texts: string | readonly string[]): Promise<EntityFor<S>[] | EntityFor<S>[][]> {
    const list = typeof texts === "string" ? [texts] : texts;
    const predictions = await this.predictTokens(list);
    const out = predictions.map((p) => this.#entities(p));
    return typeof texts === "string" ? out[0] : out;
  }

  /** Tokens, offsets, merged logits and probabilities of each text (no aggregation). */
  async predictTokens(texts: readonly string[]): Promise<TokenPrediction[]> {
    const encodings = texts.map((text, i) => {
      if (typeof text !== "string") throw new TypeError(`text ${i} is not a string`);
      return this.tokenizer.encodeText(text, { truncation: false, addSpecialTokens: false });
    });
    const scored = await this.#score(encodings.map((e) => e.inputIds));
    return encodings.map((e, i) => ({
      text: texts[i],
      tokens: e.tokens,
      inputIds: e.inputIds,
      offsets: e.offsets,
      logits: scored[i].logits,
      scores: softmaxRows(scored[i].logits, this.labels.length),
      windows: scored[i].windows,
    }));
  }

  /**
   * One label per word for pre-split sentences (CoNLL-style tokens): each word takes the label of its first
   * subtoken. A word the tokenizer drops entirely (e.g. only control characters) gets `O` (or the first
   * label when there is no `O`).
   */
  async predictWords(sentences: readonly (readonly string[])[]): Promise<string[][]> {
    const encodings = sentences.map((words) =>
      this.tokenizer.encodeWords(words, { truncation: false, addSpecialTokens: false })
    );
    const scored = await this.#score(encodings.map((e) => e.inputIds));
    const fallback = this.labels.includes("O") ? "O" : this.labels[0];
    const L = this.labels.length;
    return encodings.map((e, s) => {
      const labels = new Array<string>(sentences[s].length).fill(fallback);
      const seen = new Set<number>();
      e.wordIds.forEach((w, t) => {
        if (w === null || seen.has(w)) return;
        seen.add(w);
        labels[w] = this.labels[argmax(scored[s].logits.subarray(t * L, (t + 1) * L))];
      });
      return labels;
    });
  }

  /** Runs the `onDispose` hook given at construction (frees a model the pipeline loaded). */
  dispose(): void {
    this.#onDispose?.();
  }

  #entities(p: TokenPrediction): EntityFor<S>[] {
    const prefix = this.#prefix.ids.length;
    const pre = gatherPreEntities(
      { tokens: p.tokens, offsets: p.offsets, indices: p.tokens.map((_, i) => i + prefix) },
      p.scores,
      this.labels.length,
      this.tokenizer.unkToken,
      // HF: a tokenizer whose model has a continuing_subword_prefix (WordPiece `##`) is word-aware; others
      // (BPE, Unigram) use the space heuristic on the text.
      this.tokenizer.continuingSubwordPrefix ? {} : { text: p.text },
      // Special tokens typed in the text ("[SEP]") are skipped, as HF's special_tokens_mask does; an unknown
      // token the model produced for unknown text (an emoji) is scored like any other.
    ).filter((e, i) => !this.tokenizer.specialIds.has(p.inputIds[i]) || _unknownText(e, p.text));
    const decoder = this.tokenizer.library.decoder;
    const decode = decoder ? (tokens: string[]) => decoder.decode(tokens) : undefined;
    return aggregate(p.text, pre, this.labels, this.aggregationStrategy, this.ignoreLabels, {
      word: this.word,
      decode,
    }) as EntityFor<S>[];
  }

  /** Scores token sequences (without special tokens) window by window; merged logits per sequence. */
  async #score(seqs: readonly Int32Array[]): Promise<{ logits: Float32Array; windows: Window[] }[]> {
    const L = this.labels.length;
    const windows = seqs.map((ids) => planWindows(ids.length, this.windowSize, this.stride));
    const jobs: _Job[] = [];
    windows.forEach((ws, seq) =>
      ws.forEach((w, window) => jobs.push({ seq, window, ids: seqs[seq].subarray(w.start, w.end) }))
    );
    // Longest first, so batches pad little; results go back by (seq, window).
    const order = jobs.map((_, i) => i).sort((a, b) => jobs[b].ids.length - jobs[a].ids.length || a - b);
    const blocks = windows.map((ws) => new Array<Float32Array>(ws.length));
    for (let b = 0; b < order.length; b += this.batchSize) {
      const chunk = order.slice(b, b + this.batchSize).map((i) => jobs[i]);
      const batch = this.#batch(chunk);
      const logits = await this.scorer.score(batch);
      if (logits.length !== batch.batch * batch.seqLen * L) {
        throw new RangeError(
          `the scorer returned ${logits.length} logits for a ${batch.batch}×${batch.seqLen} batch of ${L} labels`,
        );
      }
      chunk.forEach((job, r) => {
        const from = (r * batch.seqLen + this.#prefix.ids.length) * L;
        blocks[job.seq][job.window] = logits.slice(from, from + job.ids.length * L);
      });
    }
    return seqs.map((ids, s) => ({
      logits: mergeWindowLogits(ids.length, windows[s], blocks[s], L),
      windows: windows[s],
    }));
  }

  /** Pads windows (with special tokens) into one batch. */
  #batch(jobs: readonly _Job[]): ScoreBatch {
    const pre = this.#prefix, suf = this.#suffix;
    const T = Math.max(...jobs.map((j) => j.ids.length)) + pre.ids.length + suf.ids.length;
    const B = jobs.length;
    const inputIds = new Int32Array(B * T).fill(this.tokenizer.padId);
    const attentionMask = new Int32Array(B * T);
    const tokenTypeIds = new Int32Array(B * T);
    jobs.forEach((job, r) => {
      const row = r * T;
      let k = row;
      const put = (id: number, typeId: number) => {
        inputIds[k] = id;
        attentionMask[k] = 1;
        tokenTypeIds[k++] = typeId;
      };
      pre.ids.forEach((id, i) => put(id, pre.typeIds[i]));
      for (const id of job.ids) put(id, this.#sequenceTypeId);
      suf.ids.forEach((id, i) => put(id, suf.typeIds[i]));
    });
    return { batch: B, seqLen: T, inputIds, attentionMask, tokenTypeIds };
  }
}
