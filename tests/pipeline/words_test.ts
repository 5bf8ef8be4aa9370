// Issue 13 items 6 and 12, on the real bert-base-cased tokenizer with hand-made logits (no GPU): an
// unknown token the model produced (emoji, flags) is scored and grouped like any other token, and `word`
// is HF's (the token string for `none`, the tokenizer decoder's string for groups) unless `word: "slice"`.
import { assertEquals, assertThrows } from "../_assert.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { type GroupedEntity, TokenClassificationPipeline, type TokenEntity } from "../../src/pipeline/mod.ts";
import { byToken, tokenScorer } from "./_fake.ts";

const tokenizer = await loadTokenizer();

Deno.test("pipeline (item 6): [UNK] tokens for an emoji and a flag are kept, with their text as word", async () => {
  const text = "I met 😀 and 🇫🇷 in Paris [SEP]";
  const labels = byToken({ "[UNK]": "B-MISC", Paris: "B-LOC", "[SEP]": "B-ORG" });
  const none = new TokenClassificationPipeline(tokenScorer(tokenizer, labels), tokenizer);
  const out = (await none.run(text)) as TokenEntity[];
  // The [SEP] typed in the text stays skipped (an added special token), the unknown tokens do not.
  assertEquals(out.map((e) => [e.entity, e.word, e.start, e.end]), [
    ["B-MISC", "😀", 6, 8],
    ["B-MISC", "🇫🇷", 13, 17],
    ["B-LOC", "Paris", 21, 26],
  ]);
  const simple = new TokenClassificationPipeline(tokenScorer(tokenizer, labels), tokenizer, {
    aggregationStrategy: "first",
  });
  const grouped = (await simple.run(text)) as GroupedEntity[];
  assertEquals(grouped.map((e) => [e.entity_group, e.word]), [["MISC", "😀"], ["MISC", "🇫🇷"], [
    "LOC",
    "Paris",
  ]]);
});

Deno.test("pipeline (item 12): word is HF's decoding by default, the text slice with word: 'slice'", async () => {
  const text = "Sylvain met John   Smith\tworks , fine";
  const labels = byToken({
    S: "B-PER",
    "##yl": "I-PER",
    "##va": "I-PER",
    "##in": "I-PER",
    John: "B-PER",
    Smith: "I-PER",
    works: "I-PER",
    ",": "I-PER",
  });
  const scorer = tokenScorer(tokenizer, labels);
  const none = (await new TokenClassificationPipeline(scorer, tokenizer).run(text)) as TokenEntity[];
  assertEquals(none.slice(0, 4).map((e) => e.word), ["S", "##yl", "##va", "##in"]);
  for (const strategy of ["simple", "first", "average", "max"] as const) {
    const ner = new TokenClassificationPipeline(scorer, tokenizer, { aggregationStrategy: strategy });
    const out = (await ner.run(text)) as GroupedEntity[];
    assertEquals(out.map((e) => [e.word, e.start, e.end]), [["Sylvain", 0, 7], [
      "John Smith works,",
      12,
      32,
    ]]);
  }
  const sliced = new TokenClassificationPipeline(scorer, tokenizer, {
    aggregationStrategy: "simple",
    word: "slice",
  });
  assertEquals(((await sliced.run(text)) as GroupedEntity[]).map((e) => e.word), [
    "Sylvain",
    "John   Smith\tworks ,",
  ]);
  const slicedNone = new TokenClassificationPipeline(scorer, tokenizer, { word: "slice" });
  assertEquals(((await slicedNone.run(text)) as TokenEntity[]).slice(0, 2).map((e) => e.word), ["S", "yl"]);
  assertThrows(
    () => new TokenClassificationPipeline(scorer, tokenizer, { word: "raw" as "slice" }),
    RangeError,
    "unknown word mode",
  );
});
