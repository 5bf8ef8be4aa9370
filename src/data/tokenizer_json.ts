/**
 * What the fast tokenizer's `tokenizer.json` says about word boundaries and offsets, and the edits
 * transformers makes to it from `tokenizer_config.json` before use:
 * - `add_prefix_space` (RobertaTokenizerFast / GPT2TokenizerFast `__init__`): rewrites the ByteLevel
 *   pre-tokenizer's and the post-processor's `add_prefix_space`; for a Metaspace pre-tokenizer it selects
 *   `prepend_scheme` `"always"` (true) or `"never"` (false), as newer sentencepiece-based fast tokenizers do.
 * - `do_lower_case` (BertTokenizerFast `__init__`): rewrites the BertNormalizer's `lowercase`.
 * - A legacy Metaspace `add_prefix_space: false` (tokenizers < 0.14) becomes `prepend_scheme: "never"`, as
 *   the Rust tokenizers read it (the JS library would prepend).
 * @module
 */

type _Json = Record<string, unknown>;

function _isObject(value: unknown): value is _Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The Metaspace pre-tokenizer's settings (`▁` pieces: XLM-R, CamemBERT, DeBERTa-v3, T5). */
export interface MetaspaceInfo {
  /** The replacement character (`▁`). */
  replacement: string;
  /** `always`, `first` or `never`: when a `▁` is prepended to a section. */
  prependScheme: string;
  /** Whether the pre-tokenizer splits at each `▁` (the piece starts a new pre-token). */
  split: boolean;
}

/** How a tokenizer.json's pipeline affects word ids and offsets. */
export interface PipelineInfo {
  /** A ByteLevel pre-tokenizer (GPT-2/RoBERTa byte-level BPE). */
  byteLevel: boolean;
  /** The ByteLevel pre-tokenizer's `add_prefix_space` (false without one). */
  addPrefixSpace: boolean;
  /** Metaspace settings, or null. */
  metaspace: MetaspaceInfo | null;
  /** Offsets are trimmed of the leading/trailing spaces of byte-level tokens (post-processor `trim_offsets`). */
  trimOffsets: boolean;
  /** The post-processor's `add_prefix_space` (used by the trimming of the first token). */
  postAddPrefixSpace: boolean;
}

/** The pre-tokenizers of a (possibly Sequence) pre_tokenizer, in order. */
function _preTokenizers(pre: unknown): _Json[] {
  if (!_isObject(pre)) return [];
  if (pre.type === "Sequence" && Array.isArray(pre.pretokenizers)) {
    return (pre.pretokenizers as unknown[]).flatMap(_preTokenizers);
  }
  return [pre];
}

/** The post-processors of a (possibly Sequence) post_processor, in order. */
export function postProcessors(post: unknown): _Json[] {
  if (!_isObject(post)) return [];
  if (post.type === "Sequence" && Array.isArray(post.processors)) {
    return (post.processors as unknown[]).flatMap(postProcessors);
  }
  return [post];
}

/** Reads {@link PipelineInfo} from a tokenizer.json object. */
export function pipelineInfo(json: _Json): PipelineInfo {
  const pres = _preTokenizers(json.pre_tokenizer);
  const byteLevel = pres.find((p) => p.type === "ByteLevel");
  const meta = pres.find((p) => p.type === "Metaspace");
  const trimmer = postProcessors(json.post_processor).find((p) =>
    (p.type === "ByteLevel" || p.type === "RobertaProcessing") && p.trim_offsets !== false
  );
  let metaspace: MetaspaceInfo | null = null;
  if (meta) {
    const legacy = meta.add_prefix_space === false ? "never" : "always";
    metaspace = {
      replacement: String(meta.replacement ?? "\u2581"),
      prependScheme: String(meta.prepend_scheme ?? legacy),
      split: meta.split !== false,
    };
  }
  return {
    byteLevel: byteLevel !== undefined,
    addPrefixSpace: byteLevel?.add_prefix_space === true,
    metaspace,
    // transformers' defaults when the fields are absent: trim_offsets and add_prefix_space true
    trimOffsets: trimmer !== undefined,
    postAddPrefixSpace: trimmer !== undefined && trimmer.add_prefix_space !== false,
  };
}

/** Overrides applied on top of tokenizer_config.json. */
export interface TokenizerOverrides {
  /** `add_prefix_space` (HF's `from_pretrained(..., add_prefix_space=True)`). */
  addPrefixSpace?: boolean;
}

/**
 * A copy of `json` with transformers' `__init__` edits applied: `add_prefix_space` (from `overrides`, else
 * tokenizer_config.json) and `do_lower_case` (BERT normalizer). Returns the json unchanged when nothing
 * applies.
 */
export function applyTokenizerConfig(json: _Json, config: _Json, overrides: TokenizerOverrides = {}): _Json {
  const addPrefixSpace = overrides.addPrefixSpace ??
    (typeof config.add_prefix_space === "boolean" ? config.add_prefix_space : undefined);
  const lower = typeof config.do_lower_case === "boolean" ? config.do_lower_case : undefined;
  const legacyMetaspace = _preTokenizers(json.pre_tokenizer).some((p) =>
    p.type === "Metaspace" && p.prepend_scheme === undefined && p.add_prefix_space === false
  );
  if (addPrefixSpace === undefined && lower === undefined && !legacyMetaspace) return json;
  const out = structuredClone(json);
  for (const p of _preTokenizers(out.pre_tokenizer)) {
    // tokenizers < 0.14 wrote `add_prefix_space` for Metaspace: false means prepend_scheme "never"
    if (p.type === "Metaspace" && p.prepend_scheme === undefined && p.add_prefix_space === false) {
      p.prepend_scheme = "never";
    }
  }
  if (addPrefixSpace !== undefined) {
    for (const p of _preTokenizers(out.pre_tokenizer)) {
      if (p.type === "ByteLevel") p.add_prefix_space = addPrefixSpace;
      if (p.type === "Metaspace") {
        p.prepend_scheme = addPrefixSpace ? "always" : "never";
        if ("add_prefix_space" in p) p.add_prefix_space = addPrefixSpace;
      }
    }
    for (const p of postProcessors(out.post_processor)) {
      if ((p.type === "RobertaProcessing" || p.type === "ByteLevel") && "add_prefix_space" in p) {
        p.add_prefix_space = addPrefixSpace;
      }
    }
  }
  if (lower !== undefined && _isObject(out.normalizer) && out.normalizer.type === "BertNormalizer") {
    out.normalizer.lowercase = lower;
  }
  return out;
}

/** The token string of a special-token entry of tokenizer_config.json (a string or `{content}`). */
export function specialTokenContent(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (_isObject(value) && typeof value.content === "string") return value.content;
  return undefined;
}
