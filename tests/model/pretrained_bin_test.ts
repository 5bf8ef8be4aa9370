// fromPretrained from pytorch_model.bin: a hand-built torch zip of the BERT fixture (fused q/k/v storage,
// transposed views, an int64 position_ids buffer) loads bit-identically to model.safetensors; the shared
// RoBERTa fixture's .bin (torch.save, zip) alone gives its safetensors weights; safetensors is preferred when
// both exist, and the Hub client never downloads the .bin then; a sharded .bin index loads from the Hub.
import { assert, assertEquals } from "../_assert.ts";
import { readSafetensors, type SafeTensor } from "../../src/io/safetensors.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { readAll } from "../../src/engine/tensor.ts";
import { MockHub } from "../io/_mock_hub.ts";
import { bytesOf, type PickledTensor, torchZip } from "../io/_torch_util.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const BERT = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const ROBERTA = new URL("../fixtures/roberta-tiny-parity/", import.meta.url).pathname;

/**
 * A torch zip checkpoint of `tensors` (F32): 2-D weights whose name contains `dense` stored column-major
 * and viewed transposed (stride (1, rows)), layer 0's query/key/value as row slices of one storage, and an
 * extra `bert.embeddings.position_ids` int64 buffer.
 */
function binOf(tensors: Map<string, SafeTensor>, keys: string[]): Promise<Uint8Array> {
  const pickled: PickledTensor[] = [];
  const data = new Map<string, Uint8Array>();
  const fused = ["query", "key", "value"].map((m) => `bert.encoder.layer.0.attention.self.${m}.weight`);
  const fusedKeys = fused.filter((k) => keys.includes(k));
  if (fusedKeys.length === 3) {
    const parts = fused.map((k) => tensors.get(k)!.data);
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    const storage = { key: "fused", type: "FloatStorage", numel: all.length / 4 };
    fused.forEach((k, i) => {
      const [r, c] = tensors.get(k)!.shape;
      pickled.push({ key: k, storage, offset: at / 4, size: [r, c], stride: [c, 1] });
      all.set(parts[i], at);
      at += parts[i].length;
    });
    data.set("fused", all);
  }
  for (const k of keys) {
    if (fusedKeys.length === 3 && fused.includes(k)) continue;
    const t = tensors.get(k)!;
    const id = String(data.size);
    const numel = t.data.length / 4;
    if (t.shape.length === 2 && k.includes("dense")) {
      const [r, c] = t.shape;
      const src = new Float32Array(t.data.slice().buffer);
      const colMajor = new Float32Array(numel);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) colMajor[i + r * j] = src[i * c + j];
      data.set(id, bytesOf(colMajor));
      pickled.push({
        key: k,
        storage: { key: id, type: "FloatStorage", numel },
        offset: 0,
        size: [r, c],
        stride: [1, r],
      });
    } else {
      data.set(id, t.data.slice());
      const stride = t.shape.map((_, d) => t.shape.slice(d + 1).reduce((a, b) => a * b, 1));
      pickled.push({
        key: k,
        storage: { key: id, type: "FloatStorage", numel },
        offset: 0,
        size: t.shape,
        stride,
      });
    }
  }
  data.set("pos", bytesOf(BigInt64Array.from({ length: 64 }, (_, i) => BigInt(i))));
  pickled.push({
    key: "bert.embeddings.position_ids",
    storage: { key: "pos", type: "LongStorage", numel: 64 },
    offset: 0,
    size: [1, 64],
    stride: [64, 1],
  });
  return torchZip(pickled, data, { prefix: "pytorch_model" });
}

/** Asserts the model parameters equal the reference tensors bit for bit. */
export async function assertWeights(
  params: Map<string, unknown>,
  model: { params: Map<string, never> },
  ref: Map<string, SafeTensor>,
) {
  const got = await readAll([...model.params.values()]);
  [...params.keys()].forEach((k, i) => {
    const want = new Float32Array(ref.get(k)!.data.slice().buffer);
    assert(got[i].length === want.length && got[i].every((v, j) => Object.is(v, want[j])), `${k} differs`);
  });
}

Deno.test("fromPretrained: pytorch_model.bin alone (fused, transposed, int64 extra) = model.safetensors", async () => {
  const ref = (await readSafetensors(`${BERT}model.safetensors`)).tensors;
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${BERT}config.json`, `${dir}/config.json`);
    await Deno.writeFile(`${dir}/pytorch_model.bin`, await binOf(ref, [...ref.keys()]));
    const { model, report } = await fromPretrained(dir);
    assertEquals(report.unused, []); // position_ids: a buffer HF ignores on load without a warning
    assertEquals(report.newlyInitialized, []);
    await assertWeights(model.params, model as never, ref);
    model.dispose();
    // both present: safetensors wins (a broken .bin is never read)
    await Deno.copyFile(`${BERT}model.safetensors`, `${dir}/model.safetensors`);
    await Deno.writeFile(`${dir}/pytorch_model.bin`, new Uint8Array([1, 2, 3]));
    const again = await fromPretrained(dir);
    assertEquals(again.report.unused, []);
    again.model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fromPretrained: the RoBERTa fixture's torch.save .bin alone loads its safetensors weights", async () => {
  const ref = (await readSafetensors(`${ROBERTA}model.safetensors`)).tensors;
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${ROBERTA}config.json`, `${dir}/config.json`);
    await Deno.copyFile(`${ROBERTA}pytorch_model.bin`, `${dir}/pytorch_model.bin`);
    const { model, report } = await fromPretrained(dir);
    assertEquals(report.unused, ["lm_head.decoder.weight"]); // position_ids ignored silently, as HF does
    assertEquals(report.newlyInitialized, []);
    assertEquals([...model.params.keys()].sort(), [...ref.keys()].sort());
    await assertWeights(model.params, model as never, ref);
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fromPretrained: sharded pytorch_model.bin.index.json from the (mock) Hub; .bin skipped when safetensors exist", async () => {
  const ref = (await readSafetensors(`${BERT}model.safetensors`)).tensors;
  const names = [...ref.keys()];
  const half = Math.ceil(names.length / 2);
  const files = ["pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"];
  const weightMap = Object.fromEntries(names.map((k, i) => [k, files[i < half ? 0 : 1]]));
  const config = await Deno.readFile(`${BERT}config.json`);
  const hub = await MockHub.start({
    "org/bin-only": {
      commit: "b".repeat(40),
      files: {
        "config.json": config,
        "pytorch_model.bin.index.json": new TextEncoder().encode(
          JSON.stringify({ metadata: {}, weight_map: weightMap }),
        ),
        [files[0]]: await binOf(ref, names.slice(0, half)),
        [files[1]]: await binOf(ref, names.slice(half)),
      },
      lfs: files,
    },
    "org/both": {
      commit: "c".repeat(40),
      files: {
        "config.json": config,
        "model.safetensors": await Deno.readFile(`${BERT}model.safetensors`),
        "pytorch_model.bin": new Uint8Array([1, 2, 3]),
      },
      lfs: ["model.safetensors", "pytorch_model.bin"],
    },
  });
  const cache = await Deno.makeTempDir();
  try {
    const env = (k: string) => ({ HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache })[k];
    const { model, report } = await fromPretrained("org/bin-only", { env });
    assertEquals([report.unused, report.newlyInitialized], [[], []]);
    await assertWeights(model.params, model as never, ref);
    model.dispose();
    const both = await fromPretrained("org/both", { env });
    both.model.dispose();
    const asked = hub.requests.filter((r) => r.path.includes("org/both")).map((r) => r.path);
    assert(asked.some((p) => p.endsWith("/model.safetensors")), asked.join());
    assert(!asked.some((p) => p.includes("pytorch_model")), `the .bin was requested: ${asked.join()}`);
  } finally {
    await hub.close();
    await Deno.remove(cache, { recursive: true });
  }
});
