// fromPretrained through the Hub client: a sharded checkpoint served by a mock Hub on 127.0.0.1 loads into
// the same weights as the fixture folder, lands in the standard cache, and loads again offline.
import { assert, assertEquals } from "../_assert.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { readAll } from "../../src/engine/tensor.ts";
import { MockHub } from "../io/_mock_hub.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;

Deno.test("fromPretrained: a sharded checkpoint from the (mock) Hub, then offline from the cache", async () => {
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
  const files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
  const weightMap = Object.fromEntries(names.map((k, i) => [k, files[i < half ? 0 : 1]]));
  const enc = new TextEncoder();
  const hub = await MockHub.start({
    "org/tiny-ner": {
      commit: "a".repeat(40),
      files: {
        "config.json": await Deno.readFile(`${FIXTURE}config.json`),
        "model.safetensors.index.json": enc.encode(JSON.stringify({ metadata: {}, weight_map: weightMap })),
        [files[0]]: shard(names.slice(0, half)),
        [files[1]]: shard(names.slice(half)),
      },
      lfs: files,
    },
  });
  const cache = await Deno.makeTempDir();
  try {
    const env = (online: boolean) => (k: string) =>
      ({ HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_HUB_OFFLINE: online ? undefined : "1" })[k];
    let progressEvents = 0;
    const { model, report } = await fromPretrained("org/tiny-ner", {
      env: env(true),
      onProgress: () => progressEvents++,
    });
    assertEquals(report.unused, []);
    assert(report.dir.startsWith(`${cache}/models--org--tiny-ner/snapshots/`), report.dir);
    assert(progressEvents > 0, "download progress reported");
    const got = await readAll([...model.params.values()]);
    [...model.params.keys()].forEach((k, i) => {
      const ref = toFloat32(original.tensors.get(k)!);
      assert(got[i].every((v, j) => v === ref[j]), `${k} differs`);
    });
    model.dispose();
    const before = hub.requests.length;
    const again = await fromPretrained("org/tiny-ner", { env: env(false) });
    assertEquals(hub.requests.length, before);
    again.model.dispose();
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
});
