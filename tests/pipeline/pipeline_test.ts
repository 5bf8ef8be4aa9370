// The pipeline on the real bert-base-cased tokenizer with hand-made logits (a fake scorer keyed to the
// tokens; no GPU): the course's offsets, exact spans in messy text, batching and padding, long texts in
// windows with stride, pre-split words, and option checks.
import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { rng } from "../_util.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import {
  type GroupedEntity,
  pipeline,
  TokenClassificationPipeline,
  type TokenEntity,
} from "../../src/pipeline/mod.ts";
import { byToken, type Calls, capitalised, LABELS, TOKEN_SCORER_P, tokenScorer } from "./_fake.ts";

const tokenizer = await loadTokenizer();

const COURSE = "My name is Sylvain and I work at Hugging Face in Brooklyn.";
const COURSE_LABELS = byToken({
  S: "B-PER",
  "##yl": "I-PER",
  "##va": "I-PER",
  "##in": "I-PER",
  Hu: "B-ORG",
  "##gging": "I-ORG",
  Face: "I-ORG",
  Brooklyn: "B-LOC",
});

const spans = (es: GroupedEntity[]) => es.map((e) => [e.entity_group, e.word, e.start, e.end]);

Deno.test("pipeline: the course's sentence gives Sylvain 11–18, Hugging Face 33–45, Brooklyn 49–57", async () => {
  for (const strategy of ["simple", "first", "average", "max"] as const) {
    const ner = new TokenClassificationPipeline(tokenScorer(tokenizer, COURSE_LABELS), tokenizer, {
      aggregationStrategy: strategy,
    });
    const out = await ner.run(COURSE);
    assertEquals(spans(out), [["PER", "Sylvain", 11, 18], ["ORG", "Hugging Face", 33, 45], [
      "LOC",
      "Brooklyn",
      49,
      57,
    ]], strategy);
    // average: Sylvain's mean vector favours I-PER ((q + 3p) / 4), Hugging's ties B-/I-ORG at (p + q) / 2
    const p = TOKEN_SCORER_P, q = (1 - p) / 8;
    const expected = strategy === "average" ? [(q + 3 * p) / 4, ((p + q) / 2 + p) / 2, p] : [p, p, p];
    out.forEach((e, i) => assert(Math.abs(e.score - expected[i]) < 1e-6, `${strategy}: score ${e.score}`));
  }
});

Deno.test("pipeline: none gives the course's token indices (S at 4 … Brooklyn at 16) and spans", async () => {
  const ner = new TokenClassificationPipeline(tokenScorer(tokenizer, COURSE_LABELS), tokenizer);
  const out: TokenEntity[] = await ner.run(COURSE);
  assertEquals(out.map((e) => [e.entity, e.index, e.word, e.start, e.end]), [
    ["B-PER", 4, "S", 11, 12],
    ["I-PER", 5, "##yl", 12, 14],
    ["I-PER", 6, "##va", 14, 16],
    ["I-PER", 7, "##in", 16, 18],
    ["B-ORG", 12, "Hu", 33, 35],
    ["I-ORG", 13, "##gging", 35, 40],
    ["I-ORG", 14, "Face", 41, 45],
    ["B-LOC", 16, "Brooklyn", 49, 57],
  ]);
  assertEquals(out[0].score, TOKEN_SCORER_P);
});

const TYPES: Record<string, string> = {
  Zoë: "PER",
  Dupré: "PER",
  São: "LOC",
  Paulo: "LOC",
  Brasil: "LOC",
  Ångström: "MISC",
  Łódź: "LOC",
  Café: "ORG",
  Müller: "ORG",
};

Deno.test("pipeline: accents, repeated spaces, tabs, newlines and punctuation keep exact offsets", async () => {
  const text = "  Zoë  Dupré\tvisited   São Paulo,(Brasil)!! naïve…\n\nCafé Müller — Łódź; Ångström-units.\t";
  const ner = new TokenClassificationPipeline(
    tokenScorer(tokenizer, capitalised((w) => TYPES[w] ?? null)),
    tokenizer,
    { aggregationStrategy: "simple", word: "slice" },
  );
  const out = await ner.run(text);
  assertEquals(spans(out), [
    ["PER", "Zoë  Dupré", 2, 12],
    ["LOC", "São Paulo", 23, 32],
    ["LOC", "Brasil", 34, 40],
    ["ORG", "Café Müller", 52, 63],
    ["LOC", "Łódź", 66, 70],
    ["MISC", "Ångström", 72, 80],
  ]);
  for (const e of out) assertEquals(text.slice(e.start, e.end), e.word);
  const tokens: TokenEntity[] = await new TokenClassificationPipeline(ner.scorer, tokenizer, {
    ignoreLabels: [],
    word: "slice",
  })
    .run(text);
  for (const t of tokens) assertEquals(text.slice(t.start, t.end), t.word);
  assertEquals(tokens.map((t) => t.word).join(""), text.replace(/\s/g, ""));
});

Deno.test("pipeline: batches give the same results as one text at a time; padding is never read", async () => {
  const texts = [COURSE, "", "Hugging Face", `${COURSE} ${COURSE}`, "no entities here"];
  const calls: Calls = { batches: [] };
  const ner = new TokenClassificationPipeline(tokenScorer(tokenizer, COURSE_LABELS, calls), tokenizer, {
    aggregationStrategy: "simple",
    batchSize: 2,
  });
  const together = await ner.run(texts);
  assertEquals(calls.batches.length, 2); // 4 non-empty texts, 2 per batch
  for (const b of calls.batches) {
    for (let r = 0; r < b.batch; r++) {
      const row = Array.from(b.inputIds.subarray(r * b.seqLen, (r + 1) * b.seqLen));
      const mask = Array.from(b.attentionMask.subarray(r * b.seqLen, (r + 1) * b.seqLen));
      const n = mask.indexOf(0) < 0 ? b.seqLen : mask.indexOf(0);
      assert(mask.slice(n).every((m) => m === 0) && row.slice(n).every((id) => id === tokenizer.padId));
      assertEquals([row[0], row[n - 1]], [tokenizer.tokenToId("[CLS]"), tokenizer.tokenToId("[SEP]")]);
    }
  }
  assertEquals(calls.batches.map((b) => b.seqLen), [36, 5]); // longest first: padded to the longest of each
  const alone = [];
  for (const t of texts) alone.push(await ner.run(t));
  assertEquals(together, alone);
  assertEquals(together[1], []);
  assertEquals(spans(together[3]).map((s) => s[2]), [11, 33, 49, 70, 92, 108]);
});

Deno.test("pipeline: special tokens typed in the text are skipped like HF's special_tokens_mask", async () => {
  const ner = new TokenClassificationPipeline(tokenScorer(tokenizer, () => "B-MISC"), tokenizer);
  const out: TokenEntity[] = await ner.run("Hi [SEP] there [MASK]!");
  assertEquals(out.map((e) => [e.word, e.index]), [["Hi", 1], ["there", 3], ["!", 5]]);
});

// ---- long texts ----------------------------------------------------------------------------------------

const ENTITIES: [string, string][] = [
  ["Sylvain", "PER"],
  ["Ada Lovelace", "PER"],
  ["Grace Brewster Hopper", "PER"],
  ["Zoë Dupré", "PER"],
  ["Hugging Face", "ORG"],
  ["Mozilla Foundation", "ORG"],
  ["Brooklyn", "LOC"],
  ["São Paulo", "LOC"],
  ["New York", "LOC"],
];
const WORD_TYPE = Object.fromEntries(ENTITIES.flatMap(([e, t]) => e.split(" ").map((w) => [w, t])));
const FILLER = [
  "the",
  "visited",
  "and",
  "met",
  "with",
  "in",
  "a",
  "lot",
  "of",
  "people",
  "from",
  "unbelievably",
];

/** A text of `words` words with entities between filler words, and the entities' expected spans. */
function longText(words: number, seed: number): { text: string; expected: (string | number)[][] } {
  const r = rng(seed);
  let text = "";
  const expected: (string | number)[][] = [];
  let count = 0;
  while (count < words) {
    if (text) text += r() < 0.1 ? ", " : " ";
    if (r() < 0.3 && count > 0) {
      const [name, type] = ENTITIES[Math.floor(r() * ENTITIES.length)];
      expected.push([type, name, text.length, text.length + name.length]);
      text += name;
      count += name.split(" ").length;
      text += " " + FILLER[Math.floor(r() * FILLER.length)];
      count++;
    } else {
      text += FILLER[Math.floor(r() * FILLER.length)];
      count++;
    }
  }
  return { text: text + ".", expected };
}

Deno.test("pipeline: a 2000-word text in windows with stride loses and duplicates no entity", async () => {
  const { text, expected } = longText(2000, 7);
  assertEquals(text.split(/\s+/).length >= 2000, true);
  const scorer = tokenScorer(tokenizer, capitalised((w) => WORD_TYPE[w] ?? null));
  for (const [maxLength, stride] of [[64, 16], [512, 128], [32, 12]]) {
    const ner = new TokenClassificationPipeline(scorer, tokenizer, {
      aggregationStrategy: "simple",
      maxLength,
      stride,
      batchSize: 16,
    });
    const [prediction] = await ner.predictTokens([text]);
    assert(prediction.windows.length > 5, `${prediction.windows.length} windows`);
    // Entities really cross window borders (a border falls inside them).
    const ends = prediction.windows.slice(0, -1).map((w) => prediction.offsets[w.end - 1][1]);
    const crossing = expected.filter(([, , s, e]) =>
      ends.some((x) => x > (s as number) && x < (e as number))
    );
    assert(crossing.length >= 3, `only ${crossing.length} entities cross a window end`);
    const out = await ner.run(text);
    assertEquals(spans(out), expected, `maxLength ${maxLength}, stride ${stride}`);
    for (const e of out) assert(Math.abs(e.score - TOKEN_SCORER_P) < 1e-6);
    // Without overlap the same scorer cuts entities at borders: the merge is what keeps them whole.
    const flat = new TokenClassificationPipeline(scorer, tokenizer, {
      aggregationStrategy: "simple",
      maxLength,
    });
    assert(
      JSON.stringify(spans(await flat.run(text))) !== JSON.stringify(expected),
      "stride 0 should differ",
    );
  }
});

Deno.test("pipeline: none over windows numbers every token once, in order, as in the unsplit sequence", async () => {
  const { text } = longText(300, 3);
  const scorer = tokenScorer(tokenizer, () => "B-MISC");
  const ner = new TokenClassificationPipeline(scorer, tokenizer, { maxLength: 40, stride: 10 });
  const out: TokenEntity[] = await ner.run(text);
  const full = tokenizer.encodeText(text, { truncation: false });
  assertEquals(out.length, full.inputIds.length - 2);
  assertEquals(out.map((e) => e.index), out.map((_, i) => i + 1));
  assertEquals(out.map((e) => [e.start, e.end]), full.offsets.slice(1, -1));
});

Deno.test("pipeline: texts longer than the limit are split without overlap when no stride is given", async () => {
  const calls: Calls = { batches: [] };
  const scorer = tokenScorer(tokenizer, byToken({ Brooklyn: "B-LOC" }), calls, 16);
  const ner = new TokenClassificationPipeline(scorer, tokenizer, { aggregationStrategy: "first" });
  assertEquals([ner.maxLength, ner.stride, ner.windowSize], [16, 0, 14]);
  const text = Array.from({ length: 40 }, (_, i) => i % 5 === 0 ? "Brooklyn" : "and").join(" ");
  const out = await ner.run(text);
  assertEquals(out.length, 8);
  assertEquals(calls.batches.flatMap((b) => [b.batch, b.seqLen]), [3, 16]);
});

// ---- pre-split words ------------------------------------------------------------------------------------

Deno.test("pipeline: predictWords gives one label per word, from its first subtoken", async () => {
  const scorer = tokenScorer(
    tokenizer,
    byToken({ S: "B-PER", "##yl": "I-ORG", "##va": "O", Hu: "B-ORG", "##gging": "O", Face: "I-ORG" }),
  );
  const ner = new TokenClassificationPipeline(scorer, tokenizer, { maxLength: 8, stride: 2 });
  const sentences = [
    ["Sylvain", "works", "at", "Hugging", "Face", "\u0001", "."],
    [],
    ["Face"],
    Array.from({ length: 30 }, (_, i) => i % 3 ? "x" : "Sylvain"),
  ];
  const labels = await ner.predictWords(sentences);
  assertEquals(labels.slice(0, 3), [["B-PER", "O", "O", "B-ORG", "I-ORG", "O", "O"], [], ["I-ORG"]]);
  assertEquals(labels[3], sentences[3].map((w) => w === "Sylvain" ? "B-PER" : "O"));
});

// ---- options ------------------------------------------------------------------------------------------

Deno.test("pipeline: bad options are refused with a clear message", async () => {
  const scorer = tokenScorer(tokenizer, () => "O", undefined, 64);
  const make = (s: Record<string, unknown>) =>
    new TokenClassificationPipeline(scorer, tokenizer, s as { stride?: number });
  assertThrows(() => make({ stride: 62 }), RangeError, "stride must be an integer in [0, 61]");
  assertThrows(() => make({ stride: -1 }), RangeError, "stride");
  assertThrows(() => make({ maxLength: 128 }), RangeError, "exceeds the model's limit of 64");
  assertThrows(() => make({ maxLength: 2 }), RangeError, "maxLength");
  assertThrows(() => make({ batchSize: 0 }), RangeError, "batchSize");
  assertThrows(
    () => make({ aggregationStrategy: "mean" }),
    RangeError,
    'unknown aggregation strategy "mean"',
  );
  assertThrows(
    () => new TokenClassificationPipeline({ ...scorer, vocabSize: 1000 }, tokenizer),
    RangeError,
    "has 28996 tokens but the model only 1000",
  );
  await assertRejects(
    () => pipeline("summarization" as "ner", { model: scorer }),
    RangeError,
    "unsupported task",
  );
  await assertRejects(() => pipeline("ner", { model: {} as typeof scorer }), TypeError, "model must be");
});

Deno.test("pipeline: pipeline() takes a scorer, defaults to the shipped tokenizer and the strategy 'none'", async () => {
  const ner = await pipeline("token-classification", { model: tokenScorer(tokenizer, COURSE_LABELS) });
  assertEquals([ner.aggregationStrategy, ner.tokenizer.vocabSize, ner.maxLength], ["none", 28996, 512]);
  assertEquals(ner.labels, LABELS);
  const simple = await pipeline("ner", {
    model: ner.scorer,
    tokenizer: new URL("../../data/bert-base-cased/", import.meta.url),
    aggregationStrategy: "simple",
  });
  const out: GroupedEntity[][] = await simple.run([COURSE]);
  assertEquals(out[0].map((e) => e.word), ["Sylvain", "Hugging Face", "Brooklyn"]);
});
