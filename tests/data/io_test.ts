import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { loadDatasetsCache, loadFromDisk } from "../../src/data/arrow.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { DataError } from "../../src/data/errors.ts";
import { displayLocation, joinUrl, readText, toUrl } from "../../src/data/io.ts";
import { loadDataset } from "../../src/data/load.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { serving } from "../_serve.ts";
import { arrowStream, conllFeatures, TRAIN_HEAD, writeSavedDict } from "./_arrow_fixtures.ts";

const root = new URL("../../", import.meta.url);

Deno.test("io: paths and URLs", () => {
  assertEquals(toUrl("/tmp/a b.txt").href, "file:///tmp/a%20b.txt");
  assertEquals(toUrl("http://x/y").href, "http://x/y");
  assertEquals(joinUrl("http://x/dir", "f.json").href, "http://x/dir/f.json");
  assertEquals(joinUrl(new URL("file:///d/"), "f").href, "file:///d/f");
  assertEquals(displayLocation(new URL("file:///tmp/a%20b.txt")), "/tmp/a b.txt");
  assertEquals(toUrl("rel/x.txt").href, new URL("rel/x.txt", toUrl(Deno.cwd() + "/")).href);
});

Deno.test("io: shipped CoNLL-2003, the tokenizer, save_to_disk and cache folders load over http", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSavedDict(`${dir}/saved`, { train: TRAIN_HEAD });
    await Deno.mkdir(`${dir}/cache`);
    const info = {
      dataset_name: "conll2003",
      features: conllFeatures(),
      splits: { test: { shard_lengths: [1, 2] } },
    };
    await Deno.writeTextFile(`${dir}/cache/dataset_info.json`, JSON.stringify(info));
    const columns = ["id", "tokens", "pos_tags", "chunk_tags", "ner_tags"];
    await Deno.writeFile(
      `${dir}/cache/conll2003-test-00000-of-00002.arrow`,
      arrowStream(TRAIN_HEAD.slice(0, 1), columns),
    );
    await Deno.writeFile(
      `${dir}/cache/conll2003-test-00001-of-00002.arrow`,
      arrowStream(TRAIN_HEAD.slice(1), columns),
    );
    await serving(root, async (origin) => {
      const dict = await loadConll2003(`${origin}/data/conll2003/`);
      assertEquals(dict.train.rows.length, 14041);
      assertEquals(dict.validation.source, `${origin}/data/conll2003/valid.txt`);
      const tokenizer = await loadTokenizer(`${origin}/data/bert-base-cased`);
      assertEquals(tokenizer.encodeWords(["lamb"]).tokens, ["[CLS]", "la", "##mb", "[SEP]"]);
      await assertRejects(() => readText(`${origin}/data/nope.txt`), DataError, "HTTP 404");
    });
    await serving(toUrl(dir + "/"), async (origin) => {
      assertEquals((await loadFromDisk(`${origin}/saved`)).train.rows[1].tokens, ["Peter", "Blackburn"]);
      assertEquals((await loadDatasetsCache(`${origin}/cache/`)).test.rows.map((r) => r.id), ["0", "1", "2"]);
      assertEquals((await loadDataset(`${origin}/saved/`)).train.rows.length, 3);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("io: src/data/mod.ts imported from an http URL finds its shipped data over http", async () => {
  await serving(root, async (origin) => {
    const port = new URL(origin).port;
    const script = await Deno.makeTempFile({ suffix: ".ts" });
    await Deno.writeTextFile(
      script,
      `import { CONLL2003_DIR, loadConll2003, loadTokenizer, tokenizeAndAlign } from "${origin}/src/data/mod.ts";
const raw = await loadConll2003();
const tokenizer = await loadTokenizer();
const prepared = tokenizeAndAlign({ ...raw.train, rows: raw.train.rows.slice(0, 1) }, tokenizer);
console.log(CONLL2003_DIR.protocol, raw.validation.rows.length, JSON.stringify(Array.from(prepared.examples[0].labels)));`,
    );
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", `--allow-import=127.0.0.1:${port}`, `--allow-net=127.0.0.1:${port}`, script],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert(out.code === 0, `subprocess failed:\n${stderr}`);
      assertEquals(new TextDecoder().decode(out.stdout).trim(), "http: 3250 [-100,3,0,7,0,0,0,7,0,0,0,-100]");
    } finally {
      await Deno.remove(script);
    }
  });
});
