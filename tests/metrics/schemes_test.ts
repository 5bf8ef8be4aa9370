import { assertEquals, assertThrows } from "../_assert.ts";
import { autoDetectScheme, type Scheme, strictEntities } from "../../src/metrics/schemes.ts";

/** Entities of `tags` under `scheme` as [type, start, end) triples. */
function spans(tags: string[], scheme: Scheme): [string, number, number][] {
  return strictEntities(tags, scheme).map((e) => [e.type, e.start, e.end]);
}

// Hand-worked cases: each row is tags → expected entities ([type, start, endExclusive]).
const CASES: Record<Scheme, [string[], [string, number, number][]][]> = {
  IOB1: [
    [["I-PER"], [["PER", 0, 1]]],
    [["B-PER"], []], // IOB1 uses B- only between two same-type chunks
    [["I-PER", "I-PER"], [["PER", 0, 2]]],
    [["I-PER", "B-PER"], [["PER", 0, 1], ["PER", 1, 2]]],
    [["I-PER", "I-ORG"], [["PER", 0, 1], ["ORG", 1, 2]]],
    [["I-PER", "B-ORG"], [["PER", 0, 1]]],
    [["B-PER", "I-ORG"], [["ORG", 1, 2]]],
  ],
  IOB2: [
    [["B-PER"], [["PER", 0, 1]]],
    [["I-PER"], []], // no B-: not an entity in strict mode
    [["B-PER", "I-PER"], [["PER", 0, 2]]],
    [["B-PER", "I-ORG"], [["PER", 0, 1]]],
    [["B-PER", "B-PER"], [["PER", 0, 1], ["PER", 1, 2]]],
    [["I-PER", "B-ORG"], [["ORG", 1, 2]]],
    [["B", "I", "O", "B"], [["_", 0, 2], ["_", 3, 4]]],
  ],
  IOE1: [
    [["I-PER"], [["PER", 0, 1]]],
    [["E-PER"], []],
    [["I-PER", "I-PER"], [["PER", 0, 2]]],
    [["I-PER", "I-ORG"], [["PER", 0, 1], ["ORG", 1, 2]]],
    [["E-PER", "I-PER"], [["PER", 1, 2]]],
  ],
  IOE2: [
    [["E-PER"], [["PER", 0, 1]]],
    [["I-PER"], []],
    [["I-PER", "E-PER"], [["PER", 0, 2]]],
    [["I-PER", "E-ORG"], [["ORG", 1, 2]]],
    [["E-PER", "E-PER"], [["PER", 0, 1], ["PER", 1, 2]]],
  ],
  IOBES: [
    [["S-PER"], [["PER", 0, 1]]],
    [["B-PER"], []], // never closed
    [["B-PER", "E-PER"], [["PER", 0, 2]]],
    [["B-PER", "I-PER", "E-PER", "O", "S-LOC"], [["PER", 0, 3], ["LOC", 4, 5]]],
    [["B-PER", "E-ORG"], []],
    [["I-PER", "E-PER"], []],
    [["B-PER", "S-PER"], [["PER", 1, 2]]],
  ],
  BILOU: [
    [["U-PER"], [["PER", 0, 1]]],
    [["B-PER", "L-PER"], [["PER", 0, 2]]],
    [["B-PER", "I-PER", "L-PER", "U-LOC"], [["PER", 0, 3], ["LOC", 3, 4]]],
    [["B-PER", "I-PER"], []],
    [["B-PER", "L-ORG"], []],
    [["L-PER", "U-PER"], [["PER", 1, 2]]],
  ],
};

for (const [scheme, cases] of Object.entries(CASES) as [Scheme, (typeof CASES)[Scheme]][]) {
  Deno.test(`strict ${scheme}: hand-worked cases`, () => {
    for (const [tags, expected] of cases) assertEquals(spans(tags, scheme), expected, tags.join(" "));
  });
}

Deno.test("strict mode rejects prefixes the scheme does not allow, naming sequence and position", () => {
  const e = assertThrows(
    () => strictEntities(["B-PER", "E-PER", "S-PER"], "IOB2", { sentence: 4 }),
    Error,
    "sequence 4, position 1",
  );
  assertEquals(e.message.includes("IOB2"), true);
  assertThrows(() => strictEntities(["U-PER"], "IOBES"), Error, "allowed prefixes are I, O, B, E, S");
  assertThrows(() => strictEntities(["X-PER"], "BILOU"), Error, "no known prefix");
  assertThrows(() => strictEntities(["B-PER"], "IOB3" as Scheme), Error, "Scheme should be one of");
});

Deno.test("type is the rest of the tag with dashes stripped; suffix mode reads the last letter", () => {
  assertEquals(spans(["B-ORG-COMPANY", "I-ORG-COMPANY"], "IOB2"), [["ORG-COMPANY", 0, 2]]);
  assertEquals(
    strictEntities(["PER-B", "PER-I", "LOC-S"], "IOBES", { suffix: true }).map((e) => e.type),
    ["LOC"],
  );
});

Deno.test("autoDetectScheme picks IOB2, IOE2, IOBES or BILOU from the prefixes", () => {
  assertEquals(autoDetectScheme([["B-PER", "I-PER", "O"]]), "IOB2");
  assertEquals(autoDetectScheme([["I-PER", "E-PER"], ["O"]]), "IOE2");
  assertEquals(autoDetectScheme([["S-PER"], ["B-LOC", "E-LOC"]]), "IOBES");
  assertEquals(autoDetectScheme([["B-PER", "L-PER", "O"]]), "BILOU");
  assertEquals(autoDetectScheme([["U-PER"]]), "BILOU");
  // Prefix sets seqeval does not list are refused, e.g. {I, O} (IOB1 or IOE1?) and, as in seqeval, {O, U}.
  assertThrows(() => autoDetectScheme([["I-PER", "O"]]), Error, "not supported");
  assertThrows(() => autoDetectScheme([["U-PER", "O"]]), Error, "not supported");
  assertThrows(() => autoDetectScheme([["O", "H-PER"]]), Error, "sequence 0, position 1");
});
