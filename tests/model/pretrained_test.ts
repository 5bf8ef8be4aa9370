import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import {
  describeLoadReport,
  fromPretrained,
  normalizeKey,
  savePretrained,
} from "../../src/model/pretrained.ts";
import { BERT_BASE_CASED_DIR } from "../../src/data/tokenizer.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const FIXTURE = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;

Deno.test("pretrained: save → load round trip is bit-identical and matches HF's file layout", async () => {
  const dir = await Deno.makeTempDir();
  const { model, report } = await fromPretrained(FIXTURE);
  assertEquals(report.unused, []);
  assertEquals(report.newlyInitialized, []);
  await savePretrained(model, dir, { tokenizerDir: BERT_BASE_CASED_DIR });
  const original = await readSafetensors(`${FIXTURE}model.safetensors`);
  const saved = await readSafetensors(`${dir}/model.safetensors`);
  assertEquals(saved.metadata, { format: "pt" });
  assertEquals([...saved.tensors.keys()].sort(), [...original.tensors.keys()].sort());
  for (const [k, t] of original.tensors) {
    const s = saved.tensors.get(k)!;
    assertEquals([s.dtype, s.shape], [t.dtype, t.shape], k);
    assert(s.data.every((b, i) => b === t.data[i]), `${k} is not bit-identical`);
  }
  for (const f of ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt"]) {
    await Deno.stat(`${dir}/${f}`);
  }
  const tokConfig = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
  assertEquals(
    [tokConfig.tokenizer_class, tokConfig.do_lower_case, tokConfig.model_max_length, tokConfig.cls_token],
    ["BertTokenizer", false, 64, "[CLS]"],
  );
  assertEquals(JSON.parse(await Deno.readTextFile(`${dir}/special_tokens_map.json`)).sep_token, "[SEP]");
  const again = await fromPretrained(dir);
  assertEquals(again.model.config, model.config);
  model.dispose();
  again.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pretrained: keys without `bert.`, gamma/beta names, F16 weights, pooler/MLM head and a new head", async () => {
  const dir = await Deno.makeTempDir();
  const original = await readSafetensors(`${FIXTURE}model.safetensors`);
  const tensors = [];
  for (const [k, t] of original.tensors) {
    if (k.startsWith("classifier.")) continue;
    let name = k.replace(/^bert\./, "").replace(/LayerNorm\.weight$/, "LayerNorm.gamma").replace(
      /LayerNorm\.bias$/,
      "LayerNorm.beta",
    );
    if (k.includes("position_embeddings")) name = k; // mixed styles in one file
    const f32 = toFloat32(t);
    const f16 = new Uint16Array(f32.length);
    // @ts-ignore Float16Array exists in Deno 2
    f16.set(new Uint16Array(new Float16Array(f32).buffer));
    tensors.push({ name, dtype: "F16" as const, shape: t.shape, data: f16 });
  }
  tensors.push({
    name: "pooler.dense.weight",
    dtype: "F32" as const,
    shape: [32, 32],
    data: new Float32Array(1024),
  });
  tensors.push({
    name: "cls.predictions.bias",
    dtype: "F32" as const,
    shape: [28996],
    data: new Float32Array(28996),
  });
  await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(tensors, { format: "pt" }));
  const cfg = JSON.parse(await Deno.readTextFile(`${FIXTURE}config.json`));
  delete cfg.id2label;
  delete cfg.label2id;
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg));
  const { model, report } = await fromPretrained(dir, { labels: ["O", "B-X", "I-X"] });
  assertEquals(report.unused.sort(), ["cls.predictions.bias", "pooler.dense.weight"]);
  assertEquals(report.newlyInitialized, ["classifier.weight", "classifier.bias"]);
  assert(describeLoadReport(report, dir)[1].includes("newly initialized"), "HF-style warning");
  assertEquals(model.params.get("classifier.weight")!.shape, [3, 32]);
  const w = await model.params.get("bert.embeddings.LayerNorm.weight")!.read();
  const ref = toFloat32(original.tensors.get("bert.embeddings.LayerNorm.weight")!);
  assert(w.every((v, i) => Math.abs(v - ref[i]) <= 1e-3 * Math.abs(ref[i]) + 1e-6), "F16 weights converted");
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pretrained: wrong shapes, missing weights and a corrupt file are clear errors", async () => {
  const dir = await Deno.makeTempDir();
  const cfg = JSON.parse(await Deno.readTextFile(`${FIXTURE}config.json`));
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({ ...cfg, hidden_size: 64, num_attention_heads: 4 }),
  );
  await Deno.copyFile(`${FIXTURE}model.safetensors`, `${dir}/model.safetensors`);
  await assertRejects(
    () => fromPretrained(dir),
    RangeError,
    "has shape [28996,32], the model needs [28996,64]",
  );
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...cfg, num_hidden_layers: 3 }));
  await assertRejects(() => fromPretrained(dir), Error, "lacks 16 model weights: bert.encoder.layer.2");
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(cfg));
  await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array([255, 255, 255, 255, 0, 0, 0, 0, 1, 2]));
  await assertRejects(() => fromPretrained(dir), Error, "model.safetensors");
  await Deno.remove(`${dir}/model.safetensors`);
  await assertRejects(() => fromPretrained(dir), Error, "no model.safetensors");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pretrained: checkpoint key normalisation", () => {
  assertEquals(normalizeKey("embeddings.LayerNorm.gamma"), "bert.embeddings.LayerNorm.weight");
  assertEquals(
    normalizeKey("bert.encoder.layer.0.output.LayerNorm.beta"),
    "bert.encoder.layer.0.output.LayerNorm.bias",
  );
  assertEquals(normalizeKey("classifier.weight"), "classifier.weight");
});
