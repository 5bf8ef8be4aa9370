import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { loadArrowFile, loadDatasetsCache, loadFromDisk, readArrowTable } from "../../src/data/arrow.ts";
import { CONLL2003_NER_NAMES, CONLL2003_POS_NAMES } from "../../src/data/conll2003.ts";
import { decodeTags, hfRow, labelNames } from "../../src/data/dataset.ts";
import { DataError } from "../../src/data/errors.ts";
import { loadDataset } from "../../src/data/load.ts";
import {
  arrowStream,
  conllFeatures,
  TRAIN_HEAD,
  writeSavedDict,
  writeSavedSplit,
} from "./_arrow_fixtures.ts";

const COLUMNS = ["id", "tokens", "pos_tags", "chunk_tags", "ner_tags"];

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "data_arrow_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("arrow: save_to_disk DatasetDict folder loads like HF, names from dataset_info.json", async () => {
  await withTempDir(async (dir) => {
    await writeSavedDict(dir, { train: TRAIN_HEAD, validation: TRAIN_HEAD.slice(1) });
    const dict = await loadFromDisk(dir);
    assertEquals(Object.keys(dict), ["train", "validation"]);
    assertEquals(hfRow(dict.train, 0), TRAIN_HEAD[0]);
    assertEquals(dict.validation.rows.length, 2);
    assertEquals(Object.keys(dict.train.features), ["pos_tags", "chunk_tags", "ner_tags"]);
    assertEquals(dict.train.features.ner_tags.names, CONLL2003_NER_NAMES);
    assertEquals(decodeTags(dict.train, 1, "ner_tags"), ["B-PER", "I-PER"]);
    assertEquals(dict.train.rows[0].document, null);
    // loadDataset recognises the folder too.
    assertEquals((await loadDataset(dir)).train.rows[2].tokens, ["BRUSSELS", "1996-08-22"]);
  });
});

Deno.test("arrow: datasets>=4 'List' features and a single-Dataset folder (state.json) with two shards", async () => {
  await withTempDir(async (dir) => {
    await writeSavedSplit(
      dir,
      "validation",
      [TRAIN_HEAD.slice(0, 2), TRAIN_HEAD.slice(2)],
      COLUMNS,
      conllFeatures("List"),
    );
    const dict = await loadFromDisk(dir);
    assertEquals(Object.keys(dict), ["validation"]);
    assertEquals(dict.validation.rows.map((r) => r.id), ["0", "1", "2"]);
    assertEquals(dict.validation.rows[2].tags.pos_tags.map((i) => CONLL2003_POS_NAMES[i]), ["NNP", "CD"]);
  });
});

Deno.test("arrow: without dataset_info features, names come from the Arrow schema metadata; no id column → index", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/x.arrow`;
    const features = conllFeatures();
    delete features.id;
    await Deno.writeFile(
      file,
      arrowStream(TRAIN_HEAD, ["tokens", "ner_tags"], {
        tokens: features.tokens,
        ner_tags: features.ner_tags,
      }),
    );
    const ds = await loadArrowFile(file, "test");
    assertEquals(ds.split, "test");
    assertEquals(Object.keys(ds.features), ["ner_tags"]);
    assertEquals(ds.rows.map((r) => r.id), ["0", "1", "2"]);
    assertEquals(decodeTags(ds, 0, "ner_tags")[0], "B-ORG");
  });
});

Deno.test("arrow: columns that are not ClassLabel sequences are reported, not silently lost", async () => {
  await withTempDir(async (dir) => {
    const rows = TRAIN_HEAD.map((r) => ({ ...r, ner_strings: (r.tokens as string[]).map(() => "O") }));
    const stringSeq = { feature: { dtype: "string", _type: "Value" }, _type: "Sequence" };
    const intSeq = { feature: { dtype: "int64", _type: "Value" }, _type: "Sequence" };
    const features = { ...conllFeatures(), pos_tags: intSeq, ner_strings: stringSeq };
    await writeSavedSplit(dir, "train", [rows], [...COLUMNS, "ner_strings"], features);
    const ds = (await loadFromDisk(dir)).train;
    assertEquals(Object.keys(ds.features), ["chunk_tags", "ner_tags"]);
    assertEquals(Object.keys(ds.otherColumns!), ["pos_tags", "ner_strings"]);
    assertThrows(() => labelNames(ds, "ner_strings"), DataError, "not a tag column: a sequence of strings");
    assertThrows(() => labelNames(ds, "pos_tags"), DataError, "not a sequence of ClassLabel ids");
    await Deno.writeFile(`${dir}/bare.arrow`, arrowStream(TRAIN_HEAD, COLUMNS));
    const bare = await loadArrowFile(`${dir}/bare.arrow`);
    assertEquals(Object.keys(bare.features), []);
    assertThrows(() => labelNames(bare, "ner_tags"), DataError, "no feature description");
  });
});

Deno.test("arrow: datasets cache layout, sharded and unsharded, cache-*.arrow ignored", async () => {
  await withTempDir(async (dir) => {
    const info = {
      builder_name: "conll2003",
      dataset_name: "conll2003",
      features: conllFeatures(),
      splits: {
        train: { name: "train", num_examples: 3, shard_lengths: [2, 1] },
        test: { name: "test", num_examples: 1 },
      },
    };
    await Deno.writeTextFile(`${dir}/dataset_info.json`, JSON.stringify(info));
    await Deno.writeFile(
      `${dir}/conll2003-train-00001-of-00002.arrow`,
      arrowStream(TRAIN_HEAD.slice(2), COLUMNS),
    );
    await Deno.writeFile(
      `${dir}/conll2003-train-00000-of-00002.arrow`,
      arrowStream(TRAIN_HEAD.slice(0, 2), COLUMNS),
    );
    await Deno.writeFile(`${dir}/conll2003-test.arrow`, arrowStream(TRAIN_HEAD.slice(1, 2), COLUMNS));
    await Deno.writeFile(`${dir}/cache-0123abcd.arrow`, arrowStream(TRAIN_HEAD, COLUMNS));
    const dict = await loadDatasetsCache(dir);
    assertEquals(Object.keys(dict), ["train", "test"]);
    assertEquals(dict.train.rows.map((r) => r.tokens[0]), ["EU", "Peter", "BRUSSELS"]);
    assertEquals(dict.test.rows.map((r) => r.id), ["1"]);
    assertEquals((await loadDataset(dir)).train.rows.length, 3);
  });
});

Deno.test("arrow: a file without a tokens column is an error naming file and columns", async () => {
  await withTempDir(async (dir) => {
    const rows = TRAIN_HEAD.map((r) => ({ ...r, words: r.tokens }));
    const all = conllFeatures();
    const features = { id: all.id, words: all.tokens, ner_tags: all.ner_tags };
    await writeSavedSplit(dir, "train", [rows], ["id", "words", "ner_tags"], features);
    const error = await assertRejects(() => loadFromDisk(dir), DataError, 'no "tokens" column');
    assertEquals(error.file, `${dir}/data-00000-of-00001.arrow`);
    assert(error.message.includes("id, words, ner_tags"));
    // With the right option the same file loads.
    assertEquals((await loadFromDisk(dir, { tokensColumn: "words" })).train.rows[0].tokens.length, 9);
    // A tag column the features describe but the data lacks is an error too.
    await writeSavedSplit(`${dir}/b`, "train", [TRAIN_HEAD], ["id", "tokens", "ner_tags"], conllFeatures());
    await assertRejects(
      () => loadFromDisk(`${dir}/b`),
      DataError,
      "pos_tags: described as a ClassLabel sequence but missing",
    );
  });
});

Deno.test("arrow: tokens and tags of different lengths, bad class ids and null items are errors with the row", async () => {
  await withTempDir(async (dir) => {
    const short = [{ ...TRAIN_HEAD[0] }, { ...TRAIN_HEAD[1], ner_tags: [1] }];
    await writeSavedSplit(`${dir}/a`, "train", [short], COLUMNS, conllFeatures());
    const e1 = await assertRejects(
      () => loadFromDisk(`${dir}/a`),
      DataError,
      "row 1: 2 tokens but 1 ner_tags",
    );
    assertEquals(e1.field, "ner_tags");
    const bad = [{ ...TRAIN_HEAD[1], ner_tags: [1, 9] }];
    await writeSavedSplit(`${dir}/b`, "train", [bad], COLUMNS, conllFeatures());
    await assertRejects(() => loadFromDisk(`${dir}/b`), DataError, "row 0: item 1 is 9, not a class id 0..8");
    const nulls = [{ ...TRAIN_HEAD[1], tokens: ["Peter", null] }];
    await writeSavedSplit(`${dir}/c`, "train", [nulls], COLUMNS, conllFeatures());
    await assertRejects(() => loadFromDisk(`${dir}/c`), DataError, "row 0: item 1 is null, not a string");
  });
});

Deno.test("arrow: broken files and folders give clear errors", async () => {
  await withTempDir(async (dir) => {
    assert(readArrowTable(arrowStream(TRAIN_HEAD, COLUMNS), "ok.arrow").numRows === 3);
    await Deno.writeTextFile(`${dir}/junk.arrow`, "not arrow at all");
    await assertRejects(
      () => loadArrowFile(`${dir}/junk.arrow`),
      DataError,
      "junk.arrow: not a readable Arrow IPC stream",
    );
    await Deno.writeTextFile(`${dir}/state.json`, JSON.stringify({ _data_files: [] }));
    await assertRejects(
      () => loadFromDisk(dir),
      DataError,
      "state.json: _data_files: must be a non-empty list",
    );
    await Deno.mkdir(`${dir}/empty`);
    await assertRejects(() => loadDataset(`${dir}/empty`), DataError, "not a dataset folder");
  });
});
