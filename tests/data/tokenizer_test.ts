import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { DataError } from "../../src/data/errors.ts";
import { DEFAULT_MODEL_MAX_LENGTH, loadTokenizer, WordTokenizer } from "../../src/data/tokenizer.ts";

const tokenizer = await loadTokenizer();
const raw = await loadConll2003();
const shippedJson = JSON.parse(
  await Deno.readTextFile(new URL("../../data/bert-base-cased/tokenizer.json", import.meta.url)),
);

Deno.test("tokenizer: the course's example — tokens, ids and word_ids of is_split_into_words", () => {
  const words = "EU rejects German call to boycott British lamb .".split(" ");
  const e = tokenizer.encodeWords(words);
  assertEquals(e.tokens, [
    "[CLS]",
    "EU",
    "rejects",
    "German",
    "call",
    "to",
    "boycott",
    "British",
    "la",
    "##mb",
    ".",
    "[SEP]",
  ]);
  assertEquals(e.wordIds, [null, 0, 1, 2, 3, 4, 5, 6, 7, 7, 8, null]);
  assertEquals(Array.from(e.inputIds), [
    101,
    7270,
    22961,
    1528,
    1840,
    1106,
    21423,
    1418,
    2495,
    12913,
    119,
    102,
  ]);
  assertEquals(Array.from(e.tokenTypeIds), new Array(12).fill(0));
  assert(e.inputIds instanceof Int32Array);
  assertEquals(e.truncated, false);
  assertEquals([tokenizer.padId, tokenizer.unkId, tokenizer.vocabSize], [0, 100, 28996]);
});

Deno.test("tokenizer: punctuation inside a word is split by the BERT pre-tokenizer and keeps the word's id", () => {
  const e = tokenizer.encodeWords(["U.S.", "1996-08-22", "Blackburn's"]);
  const byWord = (w: number) => e.tokens.filter((_, i) => e.wordIds[i] === w);
  assertEquals(byWord(0), ["U", ".", "S", "."]);
  assertEquals(byWord(1).join(" "), "1996 - 08 - 22");
  assertEquals(byWord(2).slice(-2), ["'", "s"]);
  assertEquals(e.wordIds.filter((w) => w !== null).length, e.tokens.length - 2);
});

Deno.test("tokenizer: cased vocab, [UNK] for unknown words, ## continuations, max_input_chars_per_word 100", () => {
  assert(tokenizer.encodeWords(["Hello"]).inputIds[1] !== tokenizer.encodeWords(["hello"]).inputIds[1]);
  assertEquals(tokenizer.encodeWords(["😀"]).tokens, ["[CLS]", "[UNK]", "[SEP]"]);
  assertEquals(tokenizer.encodeWords(["Sylvain"]).tokens.slice(1, -1), ["S", "##yl", "##va", "##in"]);
  const hundred = "a".repeat(100);
  assert(!tokenizer.encodeWords([hundred]).tokens.includes("[UNK]"));
  assertEquals(tokenizer.encodeWords(["a".repeat(101)]).tokens, ["[CLS]", "[UNK]", "[SEP]"]);
  // A word of only a format character vanishes in normalization: no token carries its id.
  const e = tokenizer.encodeWords(["a", "\u200b", "b"]);
  assertEquals(e.wordIds, [null, 0, 2, null]);
});

Deno.test("tokenizer: truncation to model_max_length (512 by default) or maxLength, [SEP] kept", () => {
  assertEquals(tokenizer.modelMaxLength, DEFAULT_MODEL_MAX_LENGTH);
  const words = Array.from({ length: 600 }, (_, i) => (i % 2 ? "lamb" : "EU"));
  const e = tokenizer.encodeWords(words);
  assertEquals([e.inputIds.length, e.truncated, e.tokens.at(-1)], [512, true, "[SEP]"]);
  assertEquals(e.wordIds.at(-2), 339); // 510 pieces = 170 × (EU + la ##mb): word 339 is the 170th "lamb"
  const short = tokenizer.encodeWords("EU rejects German call".split(" "), { maxLength: 5 });
  assertEquals(short.tokens, ["[CLS]", "EU", "rejects", "German", "[SEP]"]);
  assertEquals(tokenizer.encodeWords(words, { truncation: false }).inputIds.length, 2 + 300 + 600);
  assertEquals(tokenizer.encodeWords(["EU"], { addSpecialTokens: false }).tokens, ["EU"]);
  assertThrows(() => tokenizer.encodeWords(["EU"], { maxLength: 2 }), RangeError);
});

Deno.test("tokenizer: model_max_length from tokenizer_config.json; absurd values fall back to 512", () => {
  assertEquals(WordTokenizer.fromJson(shippedJson, { model_max_length: 128 }).modelMaxLength, 128);
  assertEquals(WordTokenizer.fromJson(shippedJson, { model_max_length: 1e30 }).modelMaxLength, 512);
});

Deno.test("tokenizer: same ids as the library encoding the joined sentence, for all of validation", () => {
  for (const row of raw.validation.rows) {
    const ours = Array.from(tokenizer.encodeWords(row.tokens, { truncation: false }).inputIds);
    const library = tokenizer.library.encode(row.tokens.join(" ")).ids;
    if (ours.join() !== library.join()) throw new Error(`row ${row.id}: ${ours} != ${library}`);
  }
});

Deno.test("tokenizer: a tokenizer.json model other than WordPiece/BPE/Unigram is rejected with file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const wordLevel = {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: "Whitespace" },
      post_processor: null,
      decoder: null,
      model: { type: "WordLevel", vocab: { a: 0, b: 1, "[UNK]": 2 }, unk_token: "[UNK]" },
    };
    const text = JSON.stringify(wordLevel, null, 2);
    await Deno.writeTextFile(`${dir}/tokenizer.json`, text);
    const line = text.split("\n").findIndex((l) => l.includes('"type": "WordLevel"')) + 1;
    const error = await assertRejects(
      () => loadTokenizer(dir),
      DataError,
      "need a WordPiece, BPE or Unigram model",
    );
    assertEquals([error.file, error.line, error.field], [`${dir}/tokenizer.json`, line, "model.type"]);
    await Deno.writeTextFile(`${dir}/tokenizer.json`, '{\n  "model": {\n    "type" "WordPiece"\n  }\n}');
    const syntax = await assertRejects(
      () => loadTokenizer(`${dir}/tokenizer.json`),
      DataError,
      "invalid JSON",
    );
    assertEquals(syntax.line, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tokenizer: raw text gets character offsets into the original string", () => {
  const text = "Hello, world! Sylvain";
  const e = tokenizer.encodeText(text);
  assertEquals(e.tokens, ["[CLS]", "Hello", ",", "world", "!", "S", "##yl", "##va", "##in", "[SEP]"]);
  assertEquals(e.offsets, [
    [0, 0],
    [0, 5],
    [5, 6],
    [7, 12],
    [12, 13],
    [14, 15],
    [15, 17],
    [17, 19],
    [19, 21],
    [0, 0],
  ]);
  assertEquals(e.wordIds, [null, 0, 1, 2, 3, 4, 4, 4, 4, null]);
});

Deno.test("tokenizer: offsets survive tabs, removed control characters, CJK, accents, astral [UNK] and [MASK]", () => {
  const text = "naïve\tx\u0000y 中文 😀 a[MASK]b";
  const e = tokenizer.encodeText(text);
  assertEquals(Array.from(e.inputIds), tokenizer.library.encode(text).ids);
  const shown = e.tokens.map((t, i) => `${t}=${text.slice(...e.offsets[i])}`);
  assertEquals(shown.slice(1, -1), [
    "na=na",
    "##ï=ï",
    "##ve=ve",
    "x=x",
    "##y=y",
    "中=中",
    "文=文",
    "[UNK]=😀",
    "a=a",
    "[MASK]=[MASK]",
    "b=b",
  ]);
});

Deno.test("tokenizer: raw-text ids equal the library's and offsets slice back to the pieces (validation)", () => {
  for (const row of raw.validation.rows) {
    const text = row.tokens.join(" ");
    const e = tokenizer.encodeText(text, { truncation: false });
    if (Array.from(e.inputIds).join() !== tokenizer.library.encode(text).ids.join()) {
      throw new Error(`row ${row.id}`);
    }
    e.tokens.forEach((token, i) => {
      if (e.wordIds[i] === null) return;
      const [start, end] = e.offsets[i];
      const surface = token.startsWith("##") ? token.slice(2) : token;
      if (token !== "[UNK]" && text.slice(start, end) !== surface) {
        throw new Error(`row ${row.id}: ${token} @ ${start}`);
      }
      if (end <= start) throw new Error(`row ${row.id}: empty offset for ${token}`);
    });
  }
});

Deno.test("tokenizer: decode joins pieces back", () => {
  const e = tokenizer.encodeWords(["lamb", "Sylvain"]);
  assertEquals(tokenizer.decode(e.inputIds, { skipSpecialTokens: true }), "lamb Sylvain");
  assertEquals(tokenizer.decode(e.inputIds), "[CLS] lamb Sylvain [SEP]");
  assertEquals(tokenizer.convertIdsToTokens([101, 2495, 12913]), ["[CLS]", "la", "##mb"]);
});
