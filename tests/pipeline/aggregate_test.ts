// HF aggregation rules on hand-made logits (probabilities chosen so every strategy gives a different
// answer): subwords with disagreeing labels, B- then B- of the same type, I- without a B-, [UNK], filters.
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  aggregate,
  argmax,
  gatherPreEntities,
  type GroupedEntity,
  softmaxRows,
  splitTag,
  type TokenEntity,
} from "../../src/pipeline/mod.ts";
import { LABELS, logitsOf } from "./_fake.ts";

/** Runs one strategy on tokens with spans and hand-made probability rows. */
function run(
  text: string,
  tokens: string[],
  offsets: [number, number][],
  rows: Record<string, number>[],
  strategy: "none" | "simple" | "first" | "average" | "max",
  ignore?: string[],
) {
  const probs = softmaxRows(logitsOf(rows), LABELS.length);
  const pre = gatherPreEntities({ tokens, offsets }, probs, LABELS.length);
  return aggregate(text, pre, LABELS, strategy, ignore);
}

/** Rounds scores so expected values can be written by hand. */
function rounded<T extends { score: number }>(entities: T[]): T[] {
  return entities.map((e) => ({ ...e, score: Math.round(e.score * 1e6) / 1e6 }));
}

// "Sylvain works": S ##yl ##va ##in disagree (B-PER .5 / I-ORG .9 / I-PER .6 / I-PER .7).
const SYL_TEXT = "Sylvain works";
const SYL_TOKENS = ["S", "##yl", "##va", "##in", "works"];
const SYL_OFFSETS: [number, number][] = [[0, 1], [1, 3], [3, 5], [5, 7], [8, 13]];
const SYL_ROWS: Record<string, number>[] = [
  { "B-PER": 0.5, "B-ORG": 0.3, O: 0.2 },
  { "I-ORG": 0.9, "I-PER": 0.1 },
  { "I-PER": 0.6, "I-ORG": 0.4 },
  { "I-PER": 0.7, O: 0.3 },
  { O: 0.95, "B-MISC": 0.05 },
];
const syl = (s: "none" | "simple" | "first" | "average" | "max") =>
  rounded(run(SYL_TEXT, SYL_TOKENS, SYL_OFFSETS, SYL_ROWS, s) as { score: number }[]);

Deno.test("aggregate: softmax of hand-made logits gives the chosen probabilities; argmax takes the first max", () => {
  const p = softmaxRows(Float32Array.from([0, Math.log(3), 1000, 1000, -1e4, 0]), 2);
  assertEquals(Array.from(p, (x) => Math.round(x * 1e6) / 1e6), [0.25, 0.75, 0.5, 0.5, 0, 1]);
  assertEquals(argmax([0.2, 0.4, 0.4]), 1);
  assertThrows(() => softmaxRows(new Float32Array(5), 2), RangeError, "multiple");
});

Deno.test("aggregate: a token is a subword when its string length differs from its span; [UNK] never is", () => {
  const pre = gatherPreEntities(
    {
      tokens: ["S", "##yl", "[UNK]", "##x", "é"],
      offsets: [[0, 1], [1, 3], [4, 8], [8, 9], [10, 11]],
      indices: [4, 5, 6, 7, 9],
    },
    new Float32Array(5 * LABELS.length),
    LABELS.length,
  );
  assertEquals(pre.map((p) => p.isSubword), [false, true, false, true, false]);
  assertEquals(pre.map((p) => p.index), [4, 5, 6, 7, 9]);
});

Deno.test("aggregate: none keeps every non-O token with its index, label, probability and text span", () => {
  assertEquals(syl("none"), [
    { entity: "B-PER", score: 0.5, index: 1, word: "S", start: 0, end: 1 },
    { entity: "I-ORG", score: 0.9, index: 2, word: "##yl", start: 1, end: 3 },
    { entity: "I-PER", score: 0.6, index: 3, word: "##va", start: 3, end: 5 },
    { entity: "I-PER", score: 0.7, index: 4, word: "##in", start: 5, end: 7 },
  ]);
});

Deno.test("aggregate: simple splits a word whose subwords disagree (type changes break groups)", () => {
  assertEquals(syl("simple"), [
    { entity_group: "PER", score: 0.5, word: "S", start: 0, end: 1 },
    { entity_group: "ORG", score: 0.9, word: "##yl", start: 1, end: 3 },
    { entity_group: "PER", score: 0.65, word: "##vain", start: 3, end: 7 },
  ]);
});

Deno.test("aggregate: first / max / average label the whole word (first token, best token, mean vector)", () => {
  assertEquals(syl("first"), [{ entity_group: "PER", score: 0.5, word: "Sylvain", start: 0, end: 7 }]);
  assertEquals(syl("max"), [{ entity_group: "ORG", score: 0.9, word: "Sylvain", start: 0, end: 7 }]);
  // mean: I-PER (0 + .1 + .6 + .7) / 4 = .35 beats I-ORG (0 + .9 + .4 + 0) / 4 = .325
  assertEquals(syl("average"), [{ entity_group: "PER", score: 0.35, word: "Sylvain", start: 0, end: 7 }]);
});

Deno.test("aggregate: B- then B- of the same type are two entities; B- I- is one", () => {
  const text = "Ada Grace met Jean Luc";
  const tokens = ["Ada", "Grace", "met", "Jean", "Luc"];
  const offsets: [number, number][] = [[0, 3], [4, 9], [10, 13], [14, 18], [19, 22]];
  const rows: Record<string, number>[] = [{ "B-PER": 0.8, O: 0.2 }, { "B-PER": 0.6, O: 0.4 }, { O: 1 }, {
    "B-PER": 0.9,
    O: 0.1,
  }, {
    "I-PER": 0.7,
    O: 0.3,
  }];
  for (const s of ["simple", "first", "average", "max"] as const) {
    assertEquals(rounded(run(text, tokens, offsets, rows, s) as GroupedEntity[]), [
      { entity_group: "PER", score: 0.8, word: "Ada", start: 0, end: 3 },
      { entity_group: "PER", score: 0.6, word: "Grace", start: 4, end: 9 },
      { entity_group: "PER", score: 0.8, word: "Jean Luc", start: 14, end: 22 },
    ], s);
  }
});

Deno.test("aggregate: an I- without a preceding B- starts an entity; an I- of another type starts a new one", () => {
  const text = "in New York Times";
  const tokens = ["in", "New", "York", "Times"];
  const offsets: [number, number][] = [[0, 2], [3, 6], [7, 11], [12, 17]];
  const rows: Record<string, number>[] = [{ O: 1 }, { "I-LOC": 0.8, O: 0.2 }, { "I-LOC": 0.6, O: 0.4 }, {
    "I-ORG": 0.5,
    "I-LOC": 0.4,
    O: 0.1,
  }];
  for (const s of ["simple", "first", "average", "max"] as const) {
    assertEquals(rounded(run(text, tokens, offsets, rows, s) as GroupedEntity[]), [
      { entity_group: "LOC", score: 0.7, word: "New York", start: 3, end: 11 },
      { entity_group: "ORG", score: 0.5, word: "Times", start: 12, end: 17 },
    ], s);
  }
  // An O between two I-PER tokens ends the first entity.
  const gap = run("Ann and Bo", ["Ann", "and", "Bo"], [[0, 3], [4, 7], [8, 10]], [{ "I-PER": 1 }, { O: 1 }, {
    "I-PER": 1,
  }], "simple");
  assertEquals((gap as GroupedEntity[]).map((e) => e.word), ["Ann", "Bo"]);
});

Deno.test("aggregate: ignoreLabels filters after grouping (O groups kept with []; a type removed by name)", () => {
  const all = run(SYL_TEXT, SYL_TOKENS, SYL_OFFSETS, SYL_ROWS, "first", []) as GroupedEntity[];
  assertEquals(all.map((e) => [e.entity_group, e.word]), [["PER", "Sylvain"], ["O", "works"]]);
  const noPer = run(SYL_TEXT, SYL_TOKENS, SYL_OFFSETS, SYL_ROWS, "simple", ["O", "PER"]) as GroupedEntity[];
  assertEquals(noPer.map((e) => e.entity_group), ["ORG"]);
  const tokens = run(SYL_TEXT, SYL_TOKENS, SYL_OFFSETS, SYL_ROWS, "none", ["I-PER", "O"]) as TokenEntity[];
  assertEquals(tokens.map((e) => e.entity), ["B-PER", "I-ORG"]);
});

Deno.test("aggregate: labels without B-/I- prefixes group like I- (HF get_tag); scores are float32 values", () => {
  const labels = ["O", "PER", "LOC"];
  const probs = softmaxRows(Float32Array.from([0, 2, 0, 0, 3, 0, 0, 0, 1]), 3);
  const pre = gatherPreEntities(
    { tokens: ["Al", "Bo", "Rome"], offsets: [[0, 2], [3, 5], [6, 10]] },
    probs,
    3,
  );
  const out = aggregate("Al Bo Rome", pre, labels, "simple") as GroupedEntity[];
  assertEquals(out.map((e) => [e.entity_group, e.word]), [["PER", "Al Bo"], ["LOC", "Rome"]]);
  for (const e of out) assert(Math.fround(e.score) === e.score, `${e.score} is not a float32 value`);
  assertEquals(splitTag("B-ORG"), ["B", "ORG"]);
  assertEquals(splitTag("E-ORG"), ["I", "E-ORG"]);
  assertThrows(() => aggregate("x", pre, labels, "mean" as "max"), RangeError, "unknown aggregation");
});
