import { assertEquals } from "../_assert.ts";
import { loadDataset } from "../../src/data/load.ts";

const CONLL = "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n";
const JSONL =
  '{"tokens": ["Peter", "Blackburn"], "ner_tags": ["B-PER", "I-PER"]}\n{"tokens": ["x"], "ner_tags": ["O"]}\n';

Deno.test("loadDataset: a File, a Blob with fileName, bytes and an http URL give the same rows as a path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/d.conll`, CONLL);
    await Deno.writeTextFile(`${dir}/d.jsonl`, JSONL);
    const fromPath = await loadDataset(`${dir}/d.conll`);
    const fromFile = await loadDataset(new File([CONLL], "d.conll"));
    const fromBytes = await loadDataset(new TextEncoder().encode(CONLL));
    assertEquals(fromFile.train.rows, fromPath.train.rows);
    assertEquals(fromBytes.train.rows, fromPath.train.rows);
    assertEquals(fromPath.train.rows.length, 2);
    const jsonPath = await loadDataset(`${dir}/d.jsonl`, { split: "validation" });
    const jsonBlob = await loadDataset(new Blob([JSONL]), { fileName: "x.jsonl", split: "validation" });
    assertEquals(jsonBlob.validation.rows, jsonPath.validation.rows);
    const ac = new AbortController();
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
      () => new Response(JSONL),
    );
    try {
      const fromUrl = await loadDataset(`http://127.0.0.1:${server.addr.port}/d.jsonl`, {
        split: "validation",
      });
      assertEquals(fromUrl.validation.rows, jsonPath.validation.rows);
    } finally {
      ac.abort();
      await server.finished;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
