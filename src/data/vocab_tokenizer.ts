/**
 * A `tokenizer.json` for checkpoints that ship only the slow tokenizer's `vocab.txt` (many community BERT
 * models do): the same fast-tokenizer definition transformers' BertConverter builds — BertNormalizer
 * (clean text, Chinese characters, accents and lowercasing from tokenizer_config.json), BertPreTokenizer,
 * WordPiece with `##` and `[UNK]`, the `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]` template and the WordPiece
 * decoder.
 * @module
 */
import { DataError } from "./errors.ts";

const _SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/**
 * Builds the tokenizer.json object from `vocab.txt` text (one token per line, id = line number) and the
 * tokenizer_config.json object (`do_lower_case` default true as in BertTokenizer, `strip_accents`,
 * `tokenize_chinese_chars`). `source` names the vocab file in errors.
 */
export function tokenizerJsonFromVocab(
  vocabText: string,
  config: Record<string, unknown>,
  source = "vocab.txt",
): Record<string, unknown> {
  const lines = vocabText.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === "") lines.pop();
  const vocab: Record<string, number> = {};
  lines.forEach((token, id) => {
    if (!(token in vocab)) vocab[token] = id;
  });
  for (const t of ["[UNK]", "[CLS]", "[SEP]"]) {
    if (!(t in vocab)) throw new DataError({ file: source }, `the vocabulary has no ${t} token`);
  }
  const lowercase = config.do_lower_case !== false;
  const special = (t: string) => ({ id: t, ids: [vocab[t]], tokens: [t] });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: _SPECIALS.filter((t) => t in vocab).map((t) => ({
      id: vocab[t],
      content: t,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: config.tokenize_chinese_chars !== false,
      strip_accents: config.strip_accents ?? null,
      lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: { "[CLS]": special("[CLS]"), "[SEP]": special("[SEP]") },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}
