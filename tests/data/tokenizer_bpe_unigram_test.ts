/**
 * Byte-level BPE (RoBERTa-style) and Unigram/Metaspace (XLM-R-style) tokenizer.json files built small here,
 * on CoNLL-2003's first sentence, with every expected value derived by hand:
 * - BPE: the merge algorithm (repeatedly merge the adjacent pair of lowest merge rank) on GPT-2's byte
 *   alphabet (`Ġ` = space); `is_split_into_words` runs each word through the pre-tokenizer on its own, so
 *   with `add_prefix_space=True` every word starts with `Ġ` (transformers requires that flag for pre-split
 *   input to RobertaTokenizerFast). Raw-text offsets: the ByteLevel regex splits `" rejects"` etc.; the
 *   RobertaProcessing `trim_offsets` step (tokenizers' `process_offsets`) drops the leading space from spans.
 * - Unigram: Viterbi over the pieces (highest total log-probability; unknown characters score min − 10);
 *   WhitespaceSplit then Metaspace prepend `▁` to each word; a prepended `▁` takes the span of the word's
 *   first character (tokenizers' `NormalizedString::prepend`), so a lone `▁` piece spans that character.
 * - Special tokens from the post-processor (`<s> … </s>`); labels aligned as the course's
 *   `align_labels_with_tokens` (first token the word's label, later tokens B-X → I-X).
 * - Pipeline subwords: HF's `gather_pre_entities` for tokenizers without `continuing_subword_prefix`:
 *   `is_subword = start > 0 and " " not in sentence[start - 1 : start + 1]`.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { WordTokenizer } from "../../src/data/tokenizer.ts";
import { DataError } from "../../src/data/errors.ts";
import { alignLabelsWithTokens } from "../../src/data/align.ts";
import { aggregate, gatherPreEntities } from "../../src/pipeline/aggregate.ts";
import type { GroupedEntity } from "../../src/pipeline/types.ts";

const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];
const WORDS = ["EU", "rejects", "German", "lamb", "."];
const WORD_LABELS = [3, 0, 7, 0, 0]; // B-ORG O B-MISC O O
const TEXT = "EU rejects German lamb.";

function specials(names: string[]) {
  return names.map((content, id) => ({
    id,
    content,
    single_word: false,
    lstrip: content === "<mask>",
    rstrip: false,
    normalized: false,
    special: true,
  }));
}

/** RoBERTa-style: ByteLevel pre-tokenizer/decoder, RobertaProcessing (trim_offsets), BPE with 12 merges. */
function bpeJson(): Record<string, unknown> {
  const symbols = [".", "E", "G", "U", "a", "b", "c", "e", "j", "l", "m", "n", "r", "s", "t", "Ġ"];
  const merges = [
    "Ġ r", // 1
    "e j", // 2
    "Ġr ej", // 3
    "c t", // 4
    "Ġ G", // 5
    "e r", // 6
    "ĠG er", // 7
    "m a", // 8
    "l a", // 9
    "Ġ la", // 10
    "E U", // 11
    "Ġ .", // 12
  ];
  const vocab: Record<string, number> = { "<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3 };
  for (const t of [...symbols, ...merges.map((m) => m.replace(" ", ""))]) {
    vocab[t] = Object.keys(vocab).length;
  }
  vocab["<mask>"] = Object.keys(vocab).length; // 32
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [...specials(["<s>", "<pad>", "</s>", "<unk>"]), { ...specials(["<mask>"])[0], id: 32 }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: "RobertaProcessing",
      sep: ["</s>", 2],
      cls: ["<s>", 0],
      trim_offsets: true,
      add_prefix_space: false,
    },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/** XLM-R-style: Replace normalizer, WhitespaceSplit + Metaspace, `<s> $A </s>` template, Unigram pieces. */
function unigramJson(): Record<string, unknown> {
  const pieces: [string, number][] = [
    ["<s>", 0],
    ["<pad>", 0],
    ["</s>", 0],
    ["<unk>", 0],
    ["▁", -3], // 4
    ["▁EU", -6], // 5   (▁ E U would be -3-4-4 = -11)
    ["E", -4], // 6
    ["U", -4], // 7
    ["▁re", -4], // 8
    ["ject", -5], // 9
    ["s", -3], // 10   ▁re ject s = -12 beats ▁reject s = -12.5
    ["▁reject", -9.5], // 11
    ["▁Ger", -5], // 12
    ["man", -4], // 13  ▁Ger man = -9 beats ▁G erman = -11
    ["▁G", -5], // 14
    ["erman", -6], // 15
    ["la", -5], // 16
    ["mb", -5], // 17  ▁ la mb = -13 beats single letters (-3 - 4×6 = -27)
    [".", -3], // 18
    ["l", -6],
    ["a", -6],
    ["m", -6],
    ["b", -6],
    ["r", -6],
    ["e", -6],
    ["j", -6],
    ["c", -6],
    ["t", -6],
    ["G", -6],
    ["n", -6],
  ];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials(["<s>", "<pad>", "</s>", "<unk>"]),
    normalizer: {
      type: "Sequence",
      normalizers: [{ type: "Replace", pattern: { Regex: " {2,}" }, content: " " }],
    },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "WhitespaceSplit" },
        { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
      ],
    },
    post_processor: {
      type: "TemplateProcessing",
      single: [
        { SpecialToken: { id: "<s>", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "</s>", type_id: 0 } },
      ],
      pair: [],
      special_tokens: {
        "<s>": { id: "<s>", ids: [0], tokens: ["<s>"] },
        "</s>": { id: "</s>", ids: [2], tokens: ["</s>"] },
      },
    },
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: 3, vocab: pieces, byte_fallback: false },
  };
}

const ROBERTA_CONFIG = { tokenizer_class: "RobertaTokenizer", model_max_length: 512 };

Deno.test("BPE (byte-level): pre-split words need add_prefix_space=True, as HF requires", () => {
  const tok = WordTokenizer.fromJson(bpeJson(), ROBERTA_CONFIG, "bpe/tokenizer.json");
  const e = assertThrows(() => tok.encodeWords(WORDS), DataError, "add_prefix_space=True");
  assert(e.message.includes("RobertaTokenizer") && e.message.includes("bpe/tokenizer.json"), e.message);
  // the flag from tokenizer_config.json works like the from_pretrained kwarg
  const viaConfig = WordTokenizer.fromJson(bpeJson(), { ...ROBERTA_CONFIG, add_prefix_space: true });
  assertEquals(viaConfig.encodeWords(WORDS).tokens.length, 15);
});

Deno.test("BPE (byte-level): tokens, ids, word ids and aligned labels of pre-split words", () => {
  const tok = WordTokenizer.fromJson(bpeJson(), ROBERTA_CONFIG, "bpe", undefined, { addPrefixSpace: true });
  assertEquals([tok.padToken, tok.padId, tok.unkToken, tok.continuingSubwordPrefix], [
    "<pad>",
    1,
    "<unk>",
    "",
  ]);
  const enc = tok.encodeWords(WORDS);
  // ĠEU: only (E,U) merges (rank 11) → Ġ EU; Ġrejects: ranks 1,2,3,4 → Ġrej e ct s;
  // ĠGerman: ranks 5,6,7,8 → ĠGer ma n; Ġlamb: ranks 9,10 → Ġla m b; Ġ.: rank 12 → Ġ.
  assertEquals(enc.tokens, [
    "<s>",
    "Ġ",
    "EU",
    "Ġrej",
    "e",
    "ct",
    "s",
    "ĠGer",
    "ma",
    "n",
    "Ġla",
    "m",
    "b",
    "Ġ.",
    "</s>",
  ]);
  assertEquals(Array.from(enc.inputIds), [0, 19, 30, 22, 11, 23, 17, 26, 27, 15, 29, 14, 9, 31, 2]);
  assertEquals(enc.wordIds, [null, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, null]);
  assertEquals(Array.from(enc.tokenTypeIds), new Array(15).fill(0));
  const labels = alignLabelsWithTokens(WORD_LABELS, enc.wordIds, LABELS);
  assertEquals(Array.from(labels), [-100, 3, 4, 0, 0, 0, 0, 7, 8, 8, 0, 0, 0, 0, -100]);
});

Deno.test("BPE (byte-level): raw-text tokens, word ids and trimmed offsets", () => {
  const tok = WordTokenizer.fromJson(bpeJson(), ROBERTA_CONFIG, "bpe");
  const enc = tok.encodeText(TEXT);
  // ByteLevel regex: "EU" | " rejects" | " German" | " lamb" | "." ; no prefix space (add_prefix_space false)
  assertEquals(enc.tokens, [
    "<s>",
    "EU",
    "Ġrej",
    "e",
    "ct",
    "s",
    "ĠGer",
    "ma",
    "n",
    "Ġla",
    "m",
    "b",
    ".",
    "</s>",
  ]);
  assertEquals(enc.wordIds, [null, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, null]);
  // Ġrej covers " rej" = [2, 6) before trimming, [3, 6) after; specials (0, 0)
  assertEquals(enc.offsets, [
    [0, 0],
    [0, 2],
    [3, 6],
    [6, 7],
    [7, 9],
    [9, 10],
    [11, 14],
    [14, 16],
    [16, 17],
    [18, 20],
    [20, 21],
    [21, 22],
    [22, 23],
    [0, 0],
  ]);
  for (let i = 1; i < enc.tokens.length - 1; i++) {
    assertEquals(TEXT.slice(...enc.offsets[i]), enc.tokens[i].replace("Ġ", ""), `token ${i}`);
  }
});

Deno.test("Unigram (Metaspace): tokens, ids, word ids and aligned labels of pre-split words", () => {
  const tok = WordTokenizer.fromJson(unigramJson(), {}, "unigram");
  assertEquals([tok.padId, tok.unkToken, tok.unkId, tok.continuingSubwordPrefix], [1, "<unk>", 3, ""]);
  const enc = tok.encodeWords(WORDS);
  // each word gets ▁ (prepend_scheme always): ▁EU | ▁re ject s | ▁Ger man | ▁ la mb | ▁ .
  assertEquals(enc.tokens, [
    "<s>",
    "▁EU",
    "▁re",
    "ject",
    "s",
    "▁Ger",
    "man",
    "▁",
    "la",
    "mb",
    "▁",
    ".",
    "</s>",
  ]);
  assertEquals(Array.from(enc.inputIds), [0, 5, 8, 9, 10, 12, 13, 4, 16, 17, 4, 18, 2]);
  assertEquals(enc.wordIds, [null, 0, 1, 1, 1, 2, 2, 3, 3, 3, 4, 4, null]);
  const labels = alignLabelsWithTokens(WORD_LABELS, enc.wordIds, LABELS);
  assertEquals(Array.from(labels), [-100, 3, 0, 0, 0, 7, 8, 0, 0, 0, 0, 0, -100]);
});

Deno.test("Unigram (Metaspace): raw-text offsets; a prepended ▁ spans the word's first character", () => {
  const tok = WordTokenizer.fromJson(unigramJson(), {}, "unigram");
  const enc = tok.encodeText(TEXT);
  // words "EU" "rejects" "German" "lamb." → ▁EU | ▁re ject s | ▁Ger man | ▁ la mb .
  assertEquals(enc.tokens, ["<s>", "▁EU", "▁re", "ject", "s", "▁Ger", "man", "▁", "la", "mb", ".", "</s>"]);
  assertEquals(enc.wordIds, [null, 0, 1, 1, 1, 2, 2, 3, 3, 3, 3, null]);
  assertEquals(enc.offsets, [
    [0, 0],
    [0, 2],
    [3, 5],
    [5, 9],
    [9, 10],
    [11, 14],
    [14, 17],
    [18, 19],
    [18, 20],
    [20, 22],
    [22, 23],
    [0, 0],
  ]);
  // runs of spaces collapse in the normalizer (Replace " {2,}" → " "); offsets stay spans of the original
  const spaced = tok.encodeText("EU   rejects", { addSpecialTokens: false });
  assertEquals(spaced.tokens, ["▁EU", "▁re", "ject", "s"]);
  assertEquals(spaced.offsets, [[0, 2], [5, 7], [7, 11], [11, 12]]);
  // an unknown character: <unk> covering it
  const unk = tok.encodeText("EU z", { addSpecialTokens: false });
  assertEquals([unk.tokens, unk.offsets], [["▁EU", "▁", "<unk>"], [[0, 2], [3, 4], [3, 4]]]);
});

Deno.test("pipeline: HF's space heuristic decides BPE and Unigram subwords; first/average/max group words", () => {
  const cases = [
    // BPE starts: EU(0) | Ġrej(3: " r") | ĠGer(11) | Ġla(18); "." at 22 follows "b": a subword of "lamb."
    { tok: WordTokenizer.fromJson(bpeJson(), ROBERTA_CONFIG, "bpe"), starts: ["EU", "rej", "Ger", "la"] },
    // Unigram: the lone ▁ spans [18, 19) and "la" starts at 18 too: both have a space before them
    { tok: WordTokenizer.fromJson(unigramJson(), {}, "uni"), starts: ["EU", "re", "Ger", "l", "la"] },
  ];
  for (const { tok, starts } of cases) {
    const enc = tok.encodeText(TEXT, { addSpecialTokens: false });
    const L = LABELS.length;
    const spans = { tokens: [...enc.tokens], offsets: enc.offsets };
    const rule = { text: TEXT };
    const probe = gatherPreEntities(spans, new Float32Array(enc.tokens.length * L), L, tok.unkToken, rule);
    assertEquals(
      probe.filter((p) => !p.isSubword).map((p) => TEXT.slice(p.start, p.end)),
      starts,
      tok.source,
    );
    const probs = new Float32Array(enc.tokens.length * L);
    // continuations lean O (0.6 vs B-MISC 0.4): first/max take the start's MISC, average still gives MISC
    probe.forEach((p, i) => {
      if (p.isSubword) [probs[i * L], probs[i * L + 7]] = [0.6, 0.4];
      else probs[i * L + 7] = 1;
    });
    const pre = gatherPreEntities(spans, probs, L, tok.unkToken, rule);
    // whole words as exact spans of the text; Unigram's lone ▁ is a one-character word of its own (HF too)
    const want = tok.modelType === "BPE"
      ? [[0, 2], [3, 10], [11, 17], [18, 23]]
      : [[0, 2], [3, 10], [11, 17], [18, 19], [18, 23]];
    for (const strategy of ["first", "average", "max"] as const) {
      const words = aggregate(TEXT, pre, LABELS, strategy, ["O"], { word: "slice" }) as GroupedEntity[];
      assertEquals(words.map((w) => [w.start, w.end]), want, `${tok.source} ${strategy}`);
      assert(words.every((w) => w.entity_group === "MISC"), `${tok.source} ${strategy}`);
    }
  }
  // the WordPiece rule is unchanged without `text`: "##" pieces are subwords by length
  const wp = gatherPreEntities({ tokens: ["la", "##mb"], offsets: [[0, 2], [2, 4]] }, new Float32Array(2), 1);
  assertEquals(wp.map((p) => p.isSubword), [false, true]);
});

Deno.test("tokenizer_config.json: do_lower_case rewrites the BERT normalizer; add_prefix_space the Metaspace", async () => {
  const bertDir = new URL("../../data/bert-base-cased/", import.meta.url);
  const json = JSON.parse(await Deno.readTextFile(new URL("tokenizer.json", bertDir)));
  const cased = WordTokenizer.fromJson(json, {});
  const lower = WordTokenizer.fromJson(json, { do_lower_case: true });
  assertEquals(cased.encodeWords(["Paris"], { addSpecialTokens: false }).tokens, ["Paris"]);
  // lowercased before WordPiece (the cased vocab has no "paris": par ##is)
  assertEquals(lower.encodeWords(["Paris"], { addSpecialTokens: false }).tokens, ["par", "##is"]);
  // Metaspace: add_prefix_space false → prepend_scheme "never": no ▁ before the first word of the text
  const never = WordTokenizer.fromJson(unigramJson(), { add_prefix_space: false });
  assertEquals(never.encodeText("EU", { addSpecialTokens: false }).tokens, ["E", "U"]);
  const legacy = unigramJson();
  const meta = (legacy.pre_tokenizer as { pretokenizers: Record<string, unknown>[] }).pretokenizers[1];
  delete meta.prepend_scheme;
  meta.add_prefix_space = false;
  assertEquals(WordTokenizer.fromJson(legacy, {}).encodeText("EU", { addSpecialTokens: false }).tokens, [
    "E",
    "U",
  ]);
  meta.add_prefix_space = true;
  assertEquals(WordTokenizer.fromJson(legacy, {}).encodeText("EU", { addSpecialTokens: false }).tokens, [
    "▁EU",
  ]);
});
