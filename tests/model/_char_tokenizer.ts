/**
 * A character-level WordPiece tokenizer for the tiny family fixtures (vocab 1000): every word splits into
 * its first character and `##`-continuations, so any CoNLL sentence tokenizes without [UNK] for ASCII
 * text. The special tokens sit at the ids the fixture's golden.json names (BERT-style `[CLS]=101,
 * [SEP]=102, [PAD]=0`, RoBERTa-style `<s>=0, <pad>=1, </s>=2`). Written as tokenizer.json +
 * tokenizer_config.json into a folder, so savePretrained copies them and the pipeline loads them.
 * @module
 */

/** The special tokens and their ids. */
export interface CharSpecials {
  pad: [string, number];
  unk: [string, number];
  cls: [string, number];
  sep: [string, number];
}

/** BERT-style ids (bert-base-cased's). */
export const BERT_STYLE: CharSpecials = {
  pad: ["[PAD]", 0],
  unk: ["[UNK]", 100],
  cls: ["[CLS]", 101],
  sep: ["[SEP]", 102],
};

/** RoBERTa-style ids. */
export const ROBERTA_STYLE: CharSpecials = {
  cls: ["<s>", 0],
  pad: ["<pad>", 1],
  sep: ["</s>", 2],
  unk: ["<unk>", 3],
};

/** Writes tokenizer.json + tokenizer_config.json for a `size`-token vocabulary into a new temp folder. */
export async function writeCharTokenizer(specials: CharSpecials, size = 1000): Promise<string> {
  const vocabList: string[] = Array.from({ length: size }, (_, i) => `[unused${i}]`);
  for (const [t, id] of Object.values(specials)) vocabList[id] = t;
  const chars = [];
  for (let c = 33; c < 127; c++) chars.push(String.fromCharCode(c));
  let next = 200;
  for (const c of chars) vocabList[next++] = c;
  for (const c of chars) vocabList[next++] = `##${c}`;
  const vocab: Record<string, number> = {};
  vocabList.forEach((t, i) => (vocab[t] = i));
  const added = Object.values(specials).map(([t, id]) => ({
    id,
    content: t,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const cls = specials.cls[0], sep = specials.sep[0];
  const json = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: null,
      lowercase: false,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
      ],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [specials.cls[1]], tokens: [cls] },
        [sep]: { id: sep, ids: [specials.sep[1]], tokens: [sep] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: {
      type: "WordPiece",
      unk_token: specials.unk[0],
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab,
    },
  };
  const dir = await Deno.makeTempDir({ prefix: "char_tok_" });
  await Deno.writeTextFile(`${dir}/tokenizer.json`, JSON.stringify(json));
  await Deno.writeTextFile(
    `${dir}/tokenizer_config.json`,
    JSON.stringify({
      pad_token: specials.pad[0],
      unk_token: specials.unk[0],
      cls_token: cls,
      sep_token: sep,
      model_max_length: 64,
    }),
  );
  return dir;
}
