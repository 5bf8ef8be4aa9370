import { assertEquals, assertThrows } from "../_assert.ts";
import {
  CONLL2003_CHUNK_NAMES,
  CONLL2003_NER_NAMES,
  CONLL2003_OPTIONS,
  CONLL2003_POS_NAMES,
  loadConll2003,
} from "../../src/data/conll2003.ts";
import { countDocuments, countTokens, decodeTags, hfRow } from "../../src/data/dataset.ts";
import { parseConll } from "../../src/data/conll.ts";
import { DataError } from "../../src/data/errors.ts";

const raw = await loadConll2003();

Deno.test("conll2003: split sizes, token and document counts match HF / the SOURCE notes", () => {
  assertEquals(Object.keys(raw), ["train", "validation", "test"]);
  assertEquals([raw.train.rows.length, raw.validation.rows.length, raw.test.rows.length], [
    14041,
    3250,
    3453,
  ]);
  assertEquals([countTokens(raw.train), countTokens(raw.validation), countTokens(raw.test)], [
    203621,
    51362,
    46435,
  ]);
  assertEquals([countDocuments(raw.train), countDocuments(raw.validation), countDocuments(raw.test)], [
    946,
    216,
    231,
  ]);
});

Deno.test("conll2003: train[0] tokens, pos, chunk and ner tags as HF", () => {
  assertEquals(hfRow(raw.train, 0), {
    id: "0",
    tokens: ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."],
    pos_tags: [22, 42, 16, 21, 35, 37, 16, 21, 7],
    chunk_tags: [11, 21, 11, 12, 21, 22, 11, 12, 0],
    ner_tags: [3, 0, 7, 0, 0, 0, 7, 0, 0],
  });
  assertEquals(Object.keys(hfRow(raw.train, 0)), ["id", "tokens", "pos_tags", "chunk_tags", "ner_tags"]);
  assertEquals(raw.train.rows[1].tokens, ["Peter", "Blackburn"]);
  assertEquals(raw.test.rows[0].id, "0");
  assertEquals(raw.test.rows.at(-1)!.id, "3452");
});

Deno.test("conll2003: ClassLabel names and their order are HF's", () => {
  assertEquals(raw.train.features.ner_tags.names, [
    "O",
    "B-PER",
    "I-PER",
    "B-ORG",
    "I-ORG",
    "B-LOC",
    "I-LOC",
    "B-MISC",
    "I-MISC",
  ]);
  assertEquals(raw.train.features.pos_tags.names, CONLL2003_POS_NAMES);
  assertEquals(CONLL2003_POS_NAMES.length, 47);
  assertEquals(CONLL2003_CHUNK_NAMES.length, 23);
  assertEquals(CONLL2003_POS_NAMES.slice(20, 26), ["MD", "NN", "NNP", "NNPS", "NNS", "NN|SYM"]);
  assertEquals(raw.validation.features.chunk_tags.names, CONLL2003_CHUNK_NAMES);
  assertEquals(Object.keys(raw.test.features), ["pos_tags", "chunk_tags", "ner_tags"]);
  // Decoding through the names gives back the file's columns for sentence 0.
  assertEquals(decodeTags(raw.train, 0, "pos_tags").join(" "), "NNP VBZ JJ NN TO VB JJ NN .");
  assertEquals(decodeTags(raw.train, 0, "chunk_tags").join(" "), "B-NP B-VP B-NP I-NP B-VP I-VP B-NP I-NP O");
});

Deno.test("conll2003: the course's B-/I- example sentence (train index 4; index 3 is the Commission one)", () => {
  const line = (i: number) => decodeTags(raw.train, i, "ner_tags").join(" ");
  // The course's printed label line for this sentence, whitespace-collapsed.
  const course =
    "B-LOC   O  O              O  O   B-ORG    I-ORG O  O          O         B-PER  I-PER     O    O  " +
    "O         O         O      O   O         O    O         O     O    B-LOC   O     O   O          O      O   O       O";
  assertEquals(line(4), course.split(/ +/).join(" "));
  assertEquals(raw.train.rows[4].tokens.slice(0, 3), ["Germany", "'s", "representative"]);
  assertEquals(raw.train.rows[3].tokens.slice(0, 3), ["The", "European", "Commission"]);
  assertEquals(line(3).split(" ").slice(0, 3), ["O", "B-ORG", "I-ORG"]);
});

Deno.test("conll2003: document boundaries are kept, contiguous and in file order", () => {
  const docs = raw.train.rows.map((r) => r.document!);
  assertEquals(docs[0], 0);
  assertEquals(docs.at(-1), 945);
  for (let i = 1; i < docs.length; i++) {
    if (docs[i] !== docs[i - 1] && docs[i] !== docs[i - 1] + 1) throw new Error(`document jump at row ${i}`);
  }
  // Document 1 starts at the sentence after the second -DOCSTART- line of train.txt.
  const text = Deno.readTextFileSync(new URL("../../data/conll2003/train.txt", import.meta.url));
  const afterSecond = text.split("-DOCSTART- -X- -X- O\n")[2].trimStart().split("\n")[0].split(" ")[0];
  const secondDoc = raw.train.rows.findIndex((r) => r.document === 1);
  assertEquals(raw.train.rows[secondDoc].tokens[0], afterSecond);
});

Deno.test("conll2003: a line with the wrong column count names file and line", () => {
  const text = "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP\n";
  const error = assertThrows(() => parseConll(text, "bad.txt", "train", CONLL2003_OPTIONS), DataError);
  assertEquals([error.file, error.line], ["bad.txt", 4]);
  assertEquals(error.message.startsWith("bad.txt:4: expected 4 columns but found 3"), true);
});

Deno.test("conll2003: an unknown tag names file, line and column", () => {
  const text = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PERSON\n";
  const error = assertThrows(() => parseConll(text, "bad.txt", "train", CONLL2003_OPTIONS), DataError);
  assertEquals([error.file, error.line, error.field], ["bad.txt", 4, "ner_tags"]);
  assertEquals(error.reason.startsWith('unknown tag "B-PERSON"'), true);
  assertEquals(CONLL2003_NER_NAMES.includes("B-PERSON"), false);
});
