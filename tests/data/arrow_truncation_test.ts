// Issue 13 item 8: an Arrow IPC stream cut at a record-batch boundary (40 of 60 rows) is an error, not a
// partial split: the end-of-stream marker is required, a datasets cache split must hold the row count its
// dataset_info.json declares, and scrambled bytes are "not an Arrow IPC stream".
import { assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { arrow } from "../../src/deps.ts";
import { loadArrowFile, loadDatasetsCache, readArrowTable } from "../../src/data/arrow.ts";
import { DataError } from "../../src/data/errors.ts";
import { arrowStream, conllFeatures, TRAIN_HEAD } from "./_arrow_fixtures.ts";

const COLUMNS = ["id", "tokens", "pos_tags", "chunk_tags", "ner_tags"];

/** 60 rows written as three record batches of 20; returns the bytes and where the third batch starts. */
function threeBatches(): { bytes: Uint8Array; cut: number } {
  const rows = Array.from({ length: 60 }, (_, i) => ({ ...TRAIN_HEAD[i % 3], id: String(i) }));
  const part = (from: number) => arrow.tableFromIPC(arrowStream(rows.slice(from, from + 20), COLUMNS));
  const tables = [part(0), part(20), part(40)];
  const bytes = arrow.RecordBatchStreamWriter.writeAll(new arrow.Table(tables.flatMap((t) => t.batches)))
    .toUint8Array(true);
  const firstTwo = arrow.RecordBatchStreamWriter.writeAll(
    new arrow.Table(tables.slice(0, 2).flatMap((t) => t.batches)),
  )
    .toUint8Array(true);
  return { bytes, cut: firstTwo.length - 8 }; // the first two batches without their end-of-stream marker
}

Deno.test("arrow (item 8): a stream cut at a record-batch boundary is refused, the whole one loads", async () => {
  const { bytes, cut } = threeBatches();
  assertEquals(readArrowTable(bytes, "x.arrow").numRows, 60);
  const truncated = bytes.slice(0, cut);
  assertEquals(arrow.tableFromIPC(truncated).numRows, 40); // what the loader used to accept
  assertThrows(() => readArrowTable(truncated, "x.arrow"), DataError, "x.arrow: truncated Arrow IPC stream");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/cut.arrow`, truncated);
    await assertRejects(() => loadArrowFile(`${dir}/cut.arrow`), DataError, "no end-of-stream marker");
    const scrambled = bytes.slice();
    for (let i = 0; i < scrambled.length; i += 7) scrambled[i] ^= 0x5a;
    assertThrows(() => readArrowTable(scrambled, "s.arrow"), DataError, "s.arrow: not a");
    assertThrows(() => readArrowTable(new Uint8Array(), "e.arrow"), DataError, "not an Arrow IPC stream");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("arrow (item 8): a datasets cache split with fewer rows than dataset_info.json declares", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const info = {
      builder_name: "conll2003",
      features: conllFeatures(),
      splits: { train: { name: "train", num_examples: 3, shard_lengths: [2, 1] } },
    };
    await Deno.writeTextFile(`${dir}/dataset_info.json`, JSON.stringify(info));
    await Deno.writeFile(
      `${dir}/conll2003-train-00000-of-00002.arrow`,
      arrowStream(TRAIN_HEAD.slice(0, 2), COLUMNS),
    );
    await Deno.writeFile(
      `${dir}/conll2003-train-00001-of-00002.arrow`,
      arrowStream(TRAIN_HEAD.slice(2, 3), COLUMNS),
    );
    assertEquals((await loadDatasetsCache(dir)).train.rows.length, 3);
    await Deno.remove(`${dir}/conll2003-train-00001-of-00002.arrow`);
    await Deno.writeFile(`${dir}/conll2003-train-00001-of-00002.arrow`, arrowStream([], COLUMNS));
    const e = await assertRejects(
      () => loadDatasetsCache(dir),
      DataError,
      "declares 3 rows but the .arrow files hold 2",
    );
    assertEquals(e.field, "splits.train.num_examples");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
