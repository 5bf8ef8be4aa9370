/**
 * Fast-tokenizer features on top of `@huggingface/tokenizers` (a pure-JS port without word ids or offsets),
 * for WordPiece (BERT family), byte-level BPE (RoBERTa, GPT-2) and Unigram/Metaspace (XLM-R, CamemBERT,
 * DeBERTa-v3) tokenizer.json files: pre-split words → ids/tokens/`word_ids` exactly as HF's fast tokenizer
 * with `is_split_into_words=True`, and raw text → tokens with character offsets (see `offsets.ts`). Each
 * word is encoded by the library without special tokens (so its normalizer, pre-tokenizer and model do the
 * work); the special tokens come from the tokenizer's post-processor. tokenizer_config.json is honoured as
 * transformers does (`add_prefix_space`, `do_lower_case`, `model_max_length`, special tokens).
 *
 * Byte-level BPE and pre-split words: HF's RobertaTokenizerFast/GPT2TokenizerFast refuse
 * `is_split_into_words=True` unless `add_prefix_space=True`, and so does {@link WordTokenizer.encodeWords}
 * (same message). `loadTokenizer(dir, { addPrefixSpace: "auto" })` sets it for byte-level tokenizers, as
 * transformers' `run_ner.py` does for roberta/gpt2/deberta; the training CLI loads tokenizers that way.
 * @module
 */
import { tokenizerJsonFromVocab } from "./vocab_tokenizer.ts";
import { Tokenizer } from "../deps.ts";
import { DataError } from "./errors.ts";
import { encodeTextWithOffsets } from "./offsets.ts";
import {
  applyTokenizerConfig,
  type PipelineInfo,
  pipelineInfo,
  specialTokenContent,
  type TokenizerOverrides,
} from "./tokenizer_json.ts";
import {
  displayLocation,
  exists,
  joinUrl,
  lineAt,
  type Location,
  parseJsonText,
  readJson,
  readText,
  toUrl,
} from "./io.ts";

/** Directory of the shipped bert-base-cased tokenizer files. */
export const BERT_BASE_CASED_DIR: URL = new URL("../../data/bert-base-cased/", import.meta.url);

/** Used when `tokenizer_config.json` gives no usable `model_max_length` (BERT's position-embedding count). */
export const DEFAULT_MODEL_MAX_LENGTH = 512;

/** Options for encoding. */
export interface EncodeOptions {
  /** Truncate to `maxLength` tokens, special tokens included (default true, as the course's `truncation=True`). */
  readonly truncation?: boolean;
  /** Maximum length with special tokens; default the tokenizer's `modelMaxLength`. */
  readonly maxLength?: number;
  /** Add the post-processor's special tokens ([CLS] … [SEP]); default true. */
  readonly addSpecialTokens?: boolean;
}

/** Encoding of pre-split words (HF `tokenizer(words, is_split_into_words=True)`). */
export interface WordEncoding {
  /** Token ids, ready for upload. */
  readonly inputIds: Int32Array;
  /** Segment ids (all 0 for a single sequence with BERT's template). */
  readonly tokenTypeIds: Int32Array;
  /** Token strings (`[CLS]`, `la`, `##mb`, ...). */
  readonly tokens: readonly string[];
  /** Index of the word each token comes from; `null` for special tokens. */
  readonly wordIds: readonly (number | null)[];
  /** Whether tokens were cut off by truncation. */
  readonly truncated: boolean;
}

/** Encoding of raw text, with character offsets into the original string. */
export interface TextEncoding extends WordEncoding {
  /**
   * `[start, end)` of each token in the original string, in UTF-16 code units (so `text.slice(start, end)`
   * works; HF's Python offsets count code points and differ only after astral characters). `[0, 0]` for
   * special tokens. Continuation pieces (`##mb`) cover just their characters.
   */
  readonly offsets: readonly (readonly [number, number])[];
}

/** The special tokens a post-processor adds around a single sequence. */
interface _Template {
  prefix: { id: number; token: string; typeId: number }[];
  suffix: { id: number; token: string; typeId: number }[];
  sequenceTypeId: number;
}

type _Json = Record<string, unknown>;

function _isObject(value: unknown): value is _Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Tokenizer models with word ids and offsets. */
export type TokenizerModelType = "WordPiece" | "BPE" | "Unigram";

const _MODEL_TYPES: readonly string[] = ["WordPiece", "BPE", "Unigram"];

/**
 * A fast tokenizer (WordPiece, BPE or Unigram tokenizer.json) with HF fast-tokenizer word ids and
 * offsets. Build it with {@linkcode loadTokenizer} or {@linkcode WordTokenizer.fromJson}.
 */
export class WordTokenizer {
  /** The underlying `@huggingface/tokenizers` instance. */
  readonly library: Tokenizer;
  /** Where the tokenizer was read from (for messages). */
  readonly source: string;
  /** `model_max_length` from tokenizer_config.json, or 512. */
  readonly modelMaxLength: number;
  /** Id of the padding token (`[PAD]` for BERT). */
  readonly padId: number;
  /** The padding token. */
  readonly padToken: string;
  /** Id of the unknown token. */
  readonly unkId: number;
  /** The unknown token (`[UNK]`). */
  readonly unkToken: string;
  /**
   * The model's `continuing_subword_prefix` (`##` for WordPiece; `""` for BPE without one and for Unigram).
   * HF's pipeline treats a tokenizer with a non-empty prefix as word-aware (see `gatherPreEntities`).
   */
  readonly continuingSubwordPrefix: string;
  /** The tokenizer.json model type. */
  readonly modelType: TokenizerModelType;
  /** Word-boundary facts of the pipeline (byte-level, Metaspace, offset trimming), after config edits. */
  readonly pipeline: PipelineInfo;
  /** `tokenizer_class` from tokenizer_config.json, if any (named in HF's messages). */
  readonly tokenizerClass: string | undefined;
  /** @internal The pre_tokenizer JSON (after config edits), walked beside the library's by `offsets.ts`. */
  readonly _preTokenizerJson: Record<string, unknown> | null;
  /** Vocabulary size including added tokens. */
  readonly vocabSize: number;
  /** Ids of the special (added) tokens. */
  readonly specialIds: ReadonlySet<number>;
  readonly #template: _Template;
  readonly #vocab: string[];
  readonly #cache = new Map<string, Int32Array>();

  private constructor(library: Tokenizer, json: _Json, config: _Json, source: string, jsonText?: string) {
    this.library = library;
    this.source = source;
    const model = json.model as _Json;
    if (!_MODEL_TYPES.includes(String(model.type))) {
      const line = jsonText === undefined ? undefined : _modelTypeLine(jsonText);
      throw new DataError(
        { file: source, line, field: "model.type" },
        `is ${
          JSON.stringify(model.type ?? null)
        }, but word ids and offsets need a WordPiece, BPE or Unigram model`,
      );
    }
    this.modelType = model.type as TokenizerModelType;
    this.pipeline = pipelineInfo(json);
    this._preTokenizerJson = _isObject(json.pre_tokenizer) ? json.pre_tokenizer : null;
    this.tokenizerClass = typeof config.tokenizer_class === "string" ? config.tokenizer_class : undefined;
    const prefix = model.continuing_subword_prefix;
    this.continuingSubwordPrefix = this.modelType === "WordPiece"
      ? String(prefix ?? "##")
      : typeof prefix === "string"
      ? prefix
      : "";
    const vocab = library.get_vocab(true);
    this.vocabSize = vocab.size;
    this.#vocab = [];
    for (const [token, id] of vocab) this.#vocab[id] = token;
    const modelUnk = this.modelType === "Unigram"
      ? (Array.isArray(model.vocab) && Number.isInteger(model.unk_id)
        ? (model.vocab[model.unk_id as number] as unknown[])?.[0]
        : undefined)
      : model.unk_token;
    this.unkToken = this.#firstKnown(
      [specialTokenContent(config.unk_token), typeof modelUnk === "string" ? modelUnk : undefined],
      ["[UNK]", "<unk>"],
      "unk_token",
    );
    this.unkId = this.#requireId(this.unkToken, "unk_token");
    const padding = _isObject(json.padding) ? json.padding : {};
    this.padToken = this.#firstKnown(
      [specialTokenContent(config.pad_token), specialTokenContent(padding.pad_token)],
      ["[PAD]", "<pad>"],
      "pad_token",
    );
    this.padId = this.#requireId(this.padToken, "pad_token");
    const maxLength = Number(config.model_max_length);
    this.modelMaxLength = Number.isInteger(maxLength) && maxLength > 0 && maxLength < 1e9
      ? maxLength
      : DEFAULT_MODEL_MAX_LENGTH;
    this.specialIds = new Set(
      [...library.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id),
    );
    this.#template = this.#parseTemplate(json.post_processor);
  }

  /**
   * Builds a tokenizer from parsed `tokenizer.json` and `tokenizer_config.json` objects.
   * @param source shown in error messages
   * @param jsonText raw tokenizer.json text, used to give line numbers in errors
   */
  static fromJson(
    tokenizerJson: unknown,
    tokenizerConfig: unknown = {},
    source = "tokenizer.json",
    jsonText?: string,
    overrides: TokenizerOverrides = {},
  ): WordTokenizer {
    if (!_isObject(tokenizerJson) || !_isObject(tokenizerJson.model)) {
      throw new DataError({ file: source, field: "model" }, "not a tokenizer.json: no model object");
    }
    if (!_isObject(tokenizerConfig)) {
      throw new DataError({ file: source }, "tokenizer_config.json must hold a JSON object");
    }
    tokenizerJson = applyTokenizerConfig(tokenizerJson, tokenizerConfig, overrides);
    let library: Tokenizer;
    try {
      library = new Tokenizer(tokenizerJson as _Json, tokenizerConfig);
    } catch (error) {
      throw new DataError(
        { file: source },
        `@huggingface/tokenizers rejected it: ${(error as Error).message}`,
      );
    }
    return new WordTokenizer(library, tokenizerJson as _Json, tokenizerConfig, source, jsonText);
  }

  /** The first of `wanted` (then `fallbacks`) that is in the vocabulary; `wanted[0]` or an error otherwise. */
  #firstKnown(wanted: (string | undefined)[], fallbacks: string[], field: string): string {
    const named = wanted.filter((t): t is string => t !== undefined);
    for (const t of [...named, ...fallbacks]) if (this.library.token_to_id(t) !== undefined) return t;
    const first = named[0] ?? fallbacks[0];
    this.#requireId(first, field); // throws: not in the vocabulary
    return first;
  }

  /** Token string of an id (`undefined` if out of range). */
  idToToken(id: number): string | undefined {
    return this.#vocab[id];
  }

  /** Id of a token string (`undefined` if not in the vocabulary). */
  tokenToId(token: string): number | undefined {
    return this.library.token_to_id(token);
  }

  /** Token strings of ids (HF `convert_ids_to_tokens`). */
  convertIdsToTokens(ids: ArrayLike<number>): string[] {
    return Array.from(ids, (id) => this.#vocab[id] ?? this.unkToken);
  }

  /** Decodes ids to text with the tokenizer's decoder (`##` pieces joined). */
  decode(ids: ArrayLike<number>, options: { skipSpecialTokens?: boolean } = {}): string {
    if (ids.length === 0) return "";
    return this.library.decode(Array.from(ids), { skip_special_tokens: options.skipSpecialTokens ?? false });
  }

  /**
   * The WordPiece ids of one word, as the library encodes it without special tokens (cached per word).
   * An empty array means the word vanishes in normalization (e.g. only control characters).
   */
  wordPieceIds(word: string): Int32Array {
    let ids = this.#cache.get(word);
    if (ids === undefined) {
      ids = Int32Array.from(this.library.encode(word, { add_special_tokens: false }).ids);
      if (this.#cache.size >= 1 << 18) this.#cache.clear();
      this.#cache.set(word, ids);
    }
    return ids;
  }

  /** Number of special tokens the post-processor adds to a single sequence (2 for BERT). */
  get numSpecialTokens(): number {
    return this.#template.prefix.length + this.#template.suffix.length;
  }

  /**
   * Encodes pre-split words like HF's fast tokenizer with `is_split_into_words=True`: every word is
   * normalized, pre-tokenized (BERT splits punctuation inside it; the pieces keep the word's id) and
   * WordPiece-encoded on its own; special tokens get word id `null`. With truncation, tokens past
   * `maxLength` (special tokens included) are dropped, possibly mid-word, as HF does.
   */
  encodeWords(words: readonly string[], options: EncodeOptions = {}): WordEncoding {
    if (this.pipeline.byteLevel && !this.pipeline.addPrefixSpace) {
      // transformers' RobertaTokenizerFast/GPT2TokenizerFast._batch_encode_plus assertion
      throw new DataError(
        { file: this.source, field: "add_prefix_space" },
        `You need to instantiate ${
          this.tokenizerClass ?? "the byte-level tokenizer"
        } with add_prefix_space=True to use it with pretokenized inputs (load it with ` +
          `{ addPrefixSpace: true } or "auto", or set "add_prefix_space": true in tokenizer_config.json)`,
      );
    }
    const pieces = words.map((word) => this.wordPieceIds(word));
    const wordIds: (number | null)[] = [];
    const ids: number[] = [];
    const { budget, addSpecial } = this.#budget(options);
    let truncated = false;
    outer: for (let w = 0; w < pieces.length; w++) {
      for (const id of pieces[w]) {
        if (ids.length >= budget) {
          truncated = true;
          break outer;
        }
        ids.push(id);
        wordIds.push(w);
      }
    }
    return this.#assemble(ids, wordIds, addSpecial, truncated);
  }

  /**
   * Encodes raw text with character offsets into it (for the inference pipeline). Same tokens as the
   * library's `encode(text)`; word ids number the BERT pre-tokens. See {@linkcode TextEncoding}.
   */
  encodeText(text: string, options: EncodeOptions = {}): TextEncoding {
    return encodeTextWithOffsets(this, text, options);
  }

  /** Resolves truncation options into a token budget for the sequence itself. */
  #budget(options: EncodeOptions): { budget: number; addSpecial: boolean } {
    const addSpecial = options.addSpecialTokens ?? true;
    const special = addSpecial ? this.numSpecialTokens : 0;
    if (options.truncation === false) return { budget: Infinity, addSpecial };
    const maxLength = options.maxLength ?? this.modelMaxLength;
    if (!Number.isInteger(maxLength) || maxLength <= special) {
      throw new RangeError(
        `maxLength must be an integer > ${special} (the special tokens), got ${maxLength}`,
      );
    }
    return { budget: maxLength - special, addSpecial };
  }

  /** Adds the template's special tokens around a sequence and builds the typed arrays. */
  #assemble(
    ids: number[],
    wordIds: (number | null)[],
    addSpecial: boolean,
    truncated: boolean,
  ): WordEncoding {
    const t = this.#template;
    const prefix = addSpecial ? t.prefix : [];
    const suffix = addSpecial ? t.suffix : [];
    const n = prefix.length + ids.length + suffix.length;
    const inputIds = new Int32Array(n);
    const tokenTypeIds = new Int32Array(n);
    const allWordIds: (number | null)[] = new Array(n);
    let k = 0;
    for (const s of prefix) {
      inputIds[k] = s.id;
      tokenTypeIds[k] = s.typeId;
      allWordIds[k++] = null;
    }
    for (let i = 0; i < ids.length; i++) {
      inputIds[k] = ids[i];
      tokenTypeIds[k] = t.sequenceTypeId;
      allWordIds[k++] = wordIds[i];
    }
    for (const s of suffix) {
      inputIds[k] = s.id;
      tokenTypeIds[k] = s.typeId;
      allWordIds[k++] = null;
    }
    return {
      inputIds,
      tokenTypeIds,
      tokens: this.convertIdsToTokens(inputIds),
      wordIds: allWordIds,
      truncated,
    };
  }

  /** @internal Used by `encodeText`: wraps a token sequence with special tokens and offsets. */
  _assembleWithOffsets(
    ids: number[],
    wordIds: number[],
    offsets: [number, number][],
    options: EncodeOptions,
  ): TextEncoding {
    const { budget, addSpecial } = this.#budget(options);
    const truncated = ids.length > budget;
    const keep = Math.min(ids.length, budget);
    const encoding = this.#assemble(ids.slice(0, keep), wordIds.slice(0, keep), addSpecial, truncated);
    const before = addSpecial ? this.#template.prefix.length : 0;
    const after = addSpecial ? this.#template.suffix.length : 0;
    const zero = (): [number, number] => [0, 0];
    const all = [
      ...Array.from({ length: before }, zero),
      ...offsets.slice(0, keep),
      ...Array.from({ length: after }, zero),
    ];
    return { ...encoding, offsets: all };
  }

  #requireId(token: string, field: string): number {
    const id = this.library.token_to_id(token);
    if (id === undefined) {
      throw new DataError({ file: this.source, field }, `token "${token}" is not in the vocabulary`);
    }
    return id;
  }

  #special(token: string, typeId: number, field: string) {
    return { id: this.#requireId(token, field), token, typeId };
  }

  /**
   * Reads the single-sequence special tokens from TemplateProcessing / BertProcessing / RobertaProcessing
   * (inside a Sequence too; ByteLevel adds none).
   */
  #parseTemplate(post: unknown): _Template {
    if (post === null || post === undefined) return { prefix: [], suffix: [], sequenceTypeId: 0 };
    if (_isObject(post) && post.type === "Sequence" && Array.isArray(post.processors)) {
      const adding = (post.processors as unknown[]).filter((p) => _isObject(p) && p.type !== "ByteLevel");
      if (adding.length > 1) {
        throw new DataError(
          { file: this.source, field: "post_processor" },
          "a Sequence with more than one special-token processor is not supported",
        );
      }
      return this.#parseTemplate(adding[0] ?? null);
    }
    if (_isObject(post) && post.type === "ByteLevel") return { prefix: [], suffix: [], sequenceTypeId: 0 };
    if (!_isObject(post)) {
      throw new DataError({ file: this.source, field: "post_processor" }, "must be an object or null");
    }
    const field = `post_processor (${post.type})`;
    if (post.type === "TemplateProcessing" && Array.isArray(post.single)) {
      const template: _Template = { prefix: [], suffix: [], sequenceTypeId: 0 };
      let seenSequence = false;
      const specials = _isObject(post.special_tokens) ? post.special_tokens : {};
      for (const item of post.single as _Json[]) {
        if (_isObject(item.Sequence)) {
          seenSequence = true;
          template.sequenceTypeId = Number(item.Sequence.type_id ?? 0);
        } else if (_isObject(item.SpecialToken)) {
          const name = String(item.SpecialToken.id);
          const typeId = Number(item.SpecialToken.type_id ?? 0);
          const entry = specials[name];
          const tokens = _isObject(entry) && Array.isArray(entry.tokens) ? entry.tokens.map(String) : [name];
          for (const token of tokens) {
            (seenSequence ? template.suffix : template.prefix).push(this.#special(token, typeId, field));
          }
        }
      }
      return template;
    }
    if (
      (post.type === "BertProcessing" || post.type === "RobertaProcessing") && Array.isArray(post.cls) &&
      Array.isArray(post.sep)
    ) {
      return {
        prefix: [this.#special(String(post.cls[0]), 0, field)],
        suffix: [this.#special(String(post.sep[0]), 0, field)],
        sequenceTypeId: 0,
      };
    }
    throw new DataError(
      { file: this.source, field: "post_processor" },
      `unsupported type ${JSON.stringify(post.type)}`,
    );
  }
}

/** Line of `"type"` inside the `"model"` object of a tokenizer.json text (best effort). */
function _modelTypeLine(text: string): number | undefined {
  const model = /"model"\s*:\s*\{/.exec(text);
  if (!model) return undefined;
  const type = /"type"\s*:/.exec(text.slice(model.index));
  return type ? lineAt(text, model.index + type.index) : lineAt(text, model.index);
}

/** Options of {@link loadTokenizer}. */
export interface LoadTokenizerOptions {
  /**
   * HF's `add_prefix_space` kwarg (overrides tokenizer_config.json). `"auto"`: true for a byte-level
   * tokenizer (as transformers' `run_ner.py` passes for roberta/gpt2/deberta, so pre-split words work),
   * otherwise what the files say.
   */
  addPrefixSpace?: boolean | "auto";
}

/**
 * Loads `tokenizer.json` (+ `tokenizer_config.json` when present) from a directory or URL; by default the
 * shipped bert-base-cased files, so it works offline. `location` may also name a `tokenizer.json` file.
 * A folder with only `vocab.txt` (a slow-tokenizer checkpoint) gets the equivalent fast definition
 * ({@link tokenizerJsonFromVocab}). A model other than WordPiece, BPE or Unigram is rejected with the
 * file and line.
 */
export async function loadTokenizer(
  location: Location = BERT_BASE_CASED_DIR,
  options: LoadTokenizerOptions = {},
): Promise<WordTokenizer> {
  const url = toUrl(location);
  const jsonUrl = url.pathname.endsWith(".json") ? url : joinUrl(url, "tokenizer.json");
  const configUrl = new URL("tokenizer_config.json", jsonUrl);
  const config = await exists(configUrl) ? (await readJson(configUrl)).value : {};
  const vocabUrl = new URL("vocab.txt", jsonUrl);
  if (!url.pathname.endsWith(".json") && !await exists(jsonUrl) && await exists(vocabUrl)) {
    // Only the slow tokenizer's files: build the fast definition as transformers' converter does.
    const source = displayLocation(vocabUrl);
    const json = tokenizerJsonFromVocab(await readText(vocabUrl), config as Record<string, unknown>, source);
    return WordTokenizer.fromJson(json, config, source);
  }
  const source = displayLocation(jsonUrl);
  const text = await readText(jsonUrl);
  const json = parseJsonText(text, source);
  const overrides: TokenizerOverrides = {};
  if (typeof options.addPrefixSpace === "boolean") overrides.addPrefixSpace = options.addPrefixSpace;
  else if (options.addPrefixSpace === "auto" && _isObject(json) && pipelineInfo(json).byteLevel) {
    overrides.addPrefixSpace = true;
  }
  return WordTokenizer.fromJson(json, config, source, text, overrides);
}
