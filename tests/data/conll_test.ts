import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { loadConll, parseConll } from "../../src/data/conll.ts";
import { DataError } from "../../src/data/errors.ts";

const TRAIN = [
  "-DOCSTART-\tO",
  "",
  "Jan\tB-PER\tNNP",
  "lives\tO\tVBZ",
  "in\tO\tIN",
  "New\tB-LOC\tNNP",
  "York\tI-LOC\tNNP",
  "",
  "-DOCSTART-\tO",
  "",
  "Acme\tB-ORG\tNNP",
  "",
].join("\n");

Deno.test("conll: chosen token and tag columns, tab separator, documents", () => {
  const ds = parseConll(TRAIN, "t.tsv", "train", {
    separator: "tab",
    tagColumns: { ner_tags: 1, pos_tags: -1 },
    docstart: "-DOCSTART-",
    columnCount: 3,
  });
  assertEquals(ds.rows.length, 2);
  assertEquals(ds.rows[0].tokens, ["Jan", "lives", "in", "New", "York"]);
  assertEquals(ds.features.ner_tags.names, ["O", "B-LOC", "I-LOC", "B-ORG", "B-PER"]);
  assertEquals(ds.rows[0].tags.ner_tags.map((i) => ds.features.ner_tags.names[i]), [
    "B-PER",
    "O",
    "O",
    "B-LOC",
    "I-LOC",
  ]);
  assertEquals(ds.features.pos_tags.names, ["IN", "NNP", "VBZ"]);
  assertEquals(ds.rows.map((r) => r.document), [0, 1]);
  assertEquals(ds.rows.map((r) => r.id), ["0", "1"]);
});

Deno.test("conll: whitespace separator, CRLF, default columns, no DOCSTART = one document", () => {
  const ds = parseConll("a  x  B-X\r\nb\tx I-X\r\n\r\n  c x O  \r\n", "w.txt");
  assertEquals(ds.rows.map((r) => r.tokens), [["a", "b"], ["c"]]);
  assertEquals(Object.keys(ds.features), ["ner_tags"]);
  assertEquals(ds.features.ner_tags.names, ["O", "B-X", "I-X"]);
  assertEquals(ds.rows.map((r) => r.document), [0, 0]);
});

Deno.test("conll: collected names are shared across splits loaded together", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/train.txt`, "a B-PER\nb I-PER\n");
    await Deno.writeTextFile(`${dir}/dev.txt`, "c B-LOC\n\nd O\n");
    const dict = await loadConll({ train: `${dir}/train.txt`, validation: `${dir}/dev.txt` });
    const names = ["O", "B-LOC", "B-PER", "I-PER"];
    assertEquals(dict.train.features.ner_tags.names, names);
    assertEquals(dict.validation.features.ner_tags.names, names);
    assertEquals(dict.train.rows[0].tags.ner_tags, [2, 3]);
    assertEquals(dict.validation.rows.map((r) => r.tags.ner_tags), [[1], [0]]);
    assertEquals(dict.validation.source, `${dir}/dev.txt`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("conll: given names keep their order; unknown tags are errors with line", () => {
  const names = { ner_tags: ["O", "B-PER", "I-PER"] };
  const ds = parseConll("a B-PER\nb O\n", "g.txt", "train", { labelNames: names });
  assertEquals(ds.rows[0].tags.ner_tags, [1, 0]);
  const error = assertThrows(
    () => parseConll("a B-PER\n\nb O\nc B-LOC\n", "g.txt", "train", { labelNames: names }),
    DataError,
  );
  assertEquals([error.file, error.line, error.field], ["g.txt", 4, "ner_tags"]);
  assert(error.message.includes('unknown tag "B-LOC"'));
});

Deno.test("conll: wrong column counts and missing columns are errors naming the line", () => {
  const e1 = assertThrows(
    () => parseConll("a x B-X\nb I-X\n", "c.txt"),
    DataError,
    "expected 3 columns but found 2",
  );
  assertEquals(e1.line, 2);
  const e2 = assertThrows(
    () => parseConll("a x\n", "c.txt", "train", { tagColumns: { ner_tags: 5 } }),
    DataError,
  );
  assertEquals([e2.line, e2.field], [1, "ner_tags"]);
  assertThrows(
    () => parseConll("a x\n", "c.txt", "train", { columnCount: 3 }),
    DataError,
    "c.txt:1: expected 3 columns",
  );
});

Deno.test("conll: a missing file is a DataError naming it", async () => {
  await assertRejects(
    () => loadConll({ train: "/nonexistent/x.txt" }),
    DataError,
    "/nonexistent/x.txt: file not found",
  );
});
