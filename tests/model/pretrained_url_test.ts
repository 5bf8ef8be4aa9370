// fromPretrained("<http url of a folder>") with a sharded checkpoint (model.safetensors.index.json and two
// shards, one of them in a subfolder) served on 127.0.0.1: the shard URLs keep the "//" of "http://", only
// the index's files are fetched, and the weights equal the local load of the same folder bit for bit; the
// same folder in a MemoryStore (fromPretrained's `store`) and savePretrained into a store load the same.
import { assert, assertEquals } from "../_assert.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { fromPretrained, savePretrained } from "../../src/model/pretrained.ts";
import { MemoryStore } from "../../src/io/storage.ts";
import { listFiles } from "../../src/io/store_files.ts";
import { BERT_BASE_CASED_DIR } from "../../src/data/tokenizer.ts";
import { readAll } from "../../src/engine/tensor.ts";
import { serving } from "../_serve.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;

/** The fixture rewritten as a two-shard checkpoint in `dir` (second shard under `part2/`). */
async function writeSharded(dir: string): Promise<void> {
  const original = await readSafetensors(`${FIXTURE}model.safetensors`);
  const names = [...original.tensors.keys()];
  const shard = (keys: string[]) =>
    serializeSafetensors(
      keys.map((k) => ({
        name: k,
        dtype: "F32" as const,
        shape: original.tensors.get(k)!.shape,
        data: toFloat32(original.tensors.get(k)!),
      })),
      { format: "pt" },
    );
  const half = Math.ceil(names.length / 2);
  const files = ["model-00001-of-00002.safetensors", "part2/model-00002-of-00002.safetensors"];
  await Deno.mkdir(`${dir}/part2`, { recursive: true });
  await Deno.writeFile(`${dir}/${files[0]}`, shard(names.slice(0, half)));
  await Deno.writeFile(`${dir}/${files[1]}`, shard(names.slice(half)));
  const weightMap = Object.fromEntries(names.map((k, i) => [k, files[i < half ? 0 : 1]]));
  await Deno.writeTextFile(
    `${dir}/model.safetensors.index.json`,
    JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }),
  );
  await Deno.copyFile(`${FIXTURE}config.json`, `${dir}/config.json`);
}

Deno.test("fromPretrained(<http url>): a sharded safetensors index loads the same weights as the local folder", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeSharded(`${root}/sharded`);
    const local = await fromPretrained(`${root}/sharded`);
    const want = await readAll([...local.model.params.values()]);
    const keys = [...local.model.params.keys()];
    local.model.dispose();
    const requested: string[] = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (input, init) => {
      requested.push(`${init?.method ?? "GET"} ${input instanceof Request ? input.url : String(input)}`);
      return realFetch(input, init);
    };
    try {
      await serving(new URL(`file://${root}/`), async (origin) => {
        for (const url of [`${origin}/sharded`, `${origin}/sharded/`]) {
          requested.length = 0;
          const { model, report } = await fromPretrained(url);
          assertEquals(report.unused, []);
          assertEquals(report.newlyInitialized, []);
          assertEquals([...model.params.keys()], keys);
          const got = await readAll([...model.params.values()]);
          keys.forEach((k, i) => assert(got[i].every((v, j) => v === want[i][j]), `${url}: ${k} differs`));
          model.dispose();
          const gets = requested.filter((r) => r.startsWith("GET ")).map((r) => r.slice(4)).sort();
          assertEquals(gets, [
            `${origin}/sharded/config.json`,
            `${origin}/sharded/model-00001-of-00002.safetensors`,
            `${origin}/sharded/model.safetensors.index.json`,
            `${origin}/sharded/part2/model-00002-of-00002.safetensors`,
          ]);
        }
      });
    } finally {
      globalThis.fetch = realFetch;
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("fromPretrained({ store }): a sharded folder in a MemoryStore, and savePretrained into one", async () => {
  const root = await Deno.makeTempDir();
  try {
    await writeSharded(`${root}/sharded`);
    const local = await fromPretrained(`${root}/sharded`);
    const want = await readAll([...local.model.params.values()]);
    const store = new MemoryStore();
    for (const f of ["config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors"]) {
      await store.writeFile(`models/sharded/${f}`, await Deno.readFile(`${root}/sharded/${f}`));
    }
    const f2 = "part2/model-00002-of-00002.safetensors";
    await store.writeFile(`models/sharded/${f2}`, await Deno.readFile(`${root}/sharded/${f2}`));
    const fromStore = await fromPretrained("models/sharded", { store });
    assertEquals(fromStore.report.dir, "models/sharded");
    const got = await readAll([...fromStore.model.params.values()]);
    got.forEach((g, i) => assert(g.every((v, j) => v === want[i][j]), `tensor ${i} differs`));
    fromStore.model.dispose();

    await savePretrained(local.model, "saved/tiny", { store, tokenizerDir: BERT_BASE_CASED_DIR });
    local.model.dispose();
    const files = await listFiles(store, "saved/tiny");
    assertEquals(files, [
      "config.json",
      "model.safetensors",
      "special_tokens_map.json",
      "tokenizer.json",
      "tokenizer_config.json",
      "vocab.txt",
    ]);
    assertEquals(await store.list("saved"), ["tiny"], "nothing staged is left beside the folder");
    const again = await fromPretrained("saved/tiny", { store });
    const back = await readAll([...again.model.params.values()]);
    back.forEach((g, i) => assert(g.every((v, j) => v === want[i][j]), `saved tensor ${i} differs`));
    again.model.dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
