import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { DataError } from "../../src/data/errors.ts";
import { loadJsonl, parseJsonl } from "../../src/data/jsonl.ts";
import { loadDataset } from "../../src/data/load.ts";
import { CONLL2003_NER_NAMES } from "../../src/data/conll2003.ts";

const lines = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

Deno.test("jsonl: string tags are collected (sorted) and every list key is a tag column", () => {
  const text = lines(
    { id: "a", tokens: ["Jan", "Smit"], ner_tags: ["B-PER", "I-PER"], pos: ["NNP", "NNP"] },
    { id: "b", tokens: ["in", "Gent"], ner_tags: ["O", "B-LOC"], pos: ["IN", "NNP"], note: "x" },
  );
  const ds = parseJsonl(text, "s.jsonl");
  assertEquals(Object.keys(ds.features), ["ner_tags", "pos"]);
  assertEquals(ds.features.ner_tags.names, ["O", "B-LOC", "B-PER", "I-PER"]);
  assertEquals(ds.rows.map((r) => r.id), ["a", "b"]);
  assertEquals(ds.rows[1].tags.ner_tags, [0, 1]);
});

Deno.test("jsonl: class ids need names; with names they load like HF to_json output", async () => {
  const text = lines({ id: "0", tokens: ["Peter", "Blackburn"], ner_tags: [1, 2] });
  const e = assertThrows(() => parseJsonl(text, "ids.jsonl"), DataError, "label names must be given");
  assertEquals([e.line, e.field], [1, "ner_tags"]);
  const ds = parseJsonl(text, "ids.jsonl", "train", { labelNames: { ner_tags: CONLL2003_NER_NAMES } });
  assertEquals(ds.rows[0].tags.ner_tags, [1, 2]);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/v.jsonl`, text);
    const dict = await loadDataset(`${dir}/v.jsonl`, {
      split: "validation",
      jsonl: { labelNames: { ner_tags: CONLL2003_NER_NAMES } },
    });
    assertEquals(dict.validation.features.ner_tags.names, CONLL2003_NER_NAMES);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jsonl: names collected over all splits agree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.jsonl`, lines({ tokens: ["x"], ner_tags: ["B-A"] }));
    await Deno.writeTextFile(`${dir}/b.jsonl`, lines({ tokens: ["y"], ner_tags: ["O"] }));
    const dict = await loadJsonl({ train: `${dir}/a.jsonl`, test: `${dir}/b.jsonl` });
    assertEquals(dict.train.features.ner_tags.names, ["O", "B-A"]);
    assertEquals(dict.test.rows[0].tags.ner_tags, [0]);
    assertEquals(dict.train.rows[0].tags.ner_tags, [1]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jsonl: bad lines name the file, line and field", () => {
  const good = JSON.stringify({ tokens: ["a"], ner_tags: ["O"] });
  const e1 = assertThrows(
    () => parseJsonl(`${good}\n\n{"tokens": [1}\n`, "b.jsonl"),
    DataError,
    "invalid JSON",
  );
  assertEquals(e1.line, 3);
  const e2 = assertThrows(
    () => parseJsonl(`${good}\n{"tokens":["a","b"],"ner_tags":["O"]}\n`, "b.jsonl"),
    DataError,
  );
  assertEquals([e2.line, e2.field], [2, "ner_tags"]);
  assert(e2.reason.includes("2 tokens but 1 tags"));
  const e3 = assertThrows(
    () => parseJsonl(`{"words":["a"]}\n`, "b.jsonl"),
    DataError,
    "b.jsonl:1: tokens: missing",
  );
  assertEquals(e3.field, "tokens");
  const e4 = assertThrows(
    () =>
      parseJsonl(`${good}\n{"tokens":["a"],"ner_tags":["B-X"]}\n`, "b.jsonl", "train", {
        labelNames: { ner_tags: ["O"] },
      }),
    DataError,
    'unknown tag "B-X"',
  );
  assertEquals(e4.line, 2);
  assertThrows(
    () => parseJsonl(`[1, 2]\n`, "b.jsonl"),
    DataError,
    "b.jsonl:1: each line must be a JSON object",
  );
});

Deno.test("jsonl: a missing file rejects with its name", async () => {
  await assertRejects(
    () => loadJsonl({ train: "/nonexistent/n.jsonl" }),
    DataError,
    "n.jsonl: file not found",
  );
});
