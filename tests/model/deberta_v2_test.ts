// DeBERTa-v2/v3 (`model_type: deberta-v2`): parity with PyTorch on both fixtures, HF's config fields and
// defaults, `_init_weights`, clear errors, and a tiny run from the fixture that trains, saves, reloads
// bit-identically and predicts the same.
import { assert, assertEquals } from "../_assert.ts";
import { runParity } from "../../src/model/parity.ts";
import { fromPretrained, savePretrained } from "../../src/model/pretrained.ts";
import { makeModelConfig, modelConfigJson, parseModelConfig, randomModel } from "../../src/model/registry.ts";
import {
  DebertaV2ForTokenClassification,
  debertaV2ParameterShapes,
  parseDebertaV2Config,
} from "../../src/model/deberta_v2.ts";
import { AdamW } from "../../src/ops/adamw.ts";
import { readSafetensors, serializeSafetensors, toFloat32 } from "../../src/io/safetensors.ts";
import { backward, noGrad } from "../../src/engine/tape.ts";
import { readAll, tidy } from "../../src/engine/tensor.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();
const fixture = (name: string) => new URL(`../fixtures/${name}/`, import.meta.url).pathname;
const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];

for (const name of ["deberta-v3-tiny-parity", "deberta-v3-tiny-parity-std01"]) {
  Deno.test(`deberta-v2: parity with PyTorch on ${name} (logits incl. padding, loss, grads, AdamW)`, async () => {
    const r = await runParity(fixture(name), `${fixture(name)}golden.safetensors`);
    assertEquals(r.failures, []);
    assert(r.logits_max_abs <= 1e-5 && r.loss_abs <= 1e-5, JSON.stringify(r));
    assert(r.grad_worst_ratio <= 1 && r.adamw_update_worst_abs <= 2e-5, JSON.stringify(r));
    assertEquals(r.tensors_compared, 2 + 2 * 40);
  });
}

Deno.test("deberta-v2: config.json fields parsed as HF does and written back with model_type and architectures", async () => {
  const raw = JSON.parse(await Deno.readTextFile(`${fixture("deberta-v3-tiny-parity-std01")}config.json`));
  const c = parseModelConfig(raw, "config.json");
  assert(c.model_type === "deberta-v2");
  const d = parseDebertaV2Config(raw);
  assertEquals(d.pos_att_type, ["p2c", "c2p"]); // written "p2c|c2p" in the file
  assertEquals(
    [d.position_buckets, d.max_relative_positions, d.share_att_key, d.norm_rel_ebd, d.layer_norm_eps],
    [8, -1, true, "layer_norm", 1e-7],
  );
  const json = modelConfigJson(c);
  assertEquals(json.architectures, ["DebertaV2ForTokenClassification"]);
  assertEquals(json.model_type, "deberta-v2");
  for (
    const k of [
      "relative_attention",
      "position_buckets",
      "pos_att_type",
      "share_att_key",
      "norm_rel_ebd",
      "position_biased_input",
      "max_relative_positions",
      "type_vocab_size",
      "pooler_hidden_size",
    ]
  ) assert(k in json, `saved config lacks ${k}`);
  assert(!("embedding_size" in json) && !("position_embedding_type" in json), "no fields HF's file lacks");
  assertEquals(parseModelConfig(json, "saved"), c);
  // Shapes: 2·position_buckets relative rows, no absolute positions or token types.
  const shapes = new Map(debertaV2ParameterShapes(d));
  assertEquals(shapes.get("deberta.encoder.rel_embeddings.weight"), [16, 32]);
  assert(!shapes.has("deberta.embeddings.position_embeddings.weight"));
  assert(!shapes.has("deberta.embeddings.token_type_embeddings.weight"));
});

Deno.test("deberta-v2: HF defaults for absent fields; unsupported settings are clear errors", () => {
  const base = { model_type: "deberta-v2", hidden_size: 32, num_attention_heads: 4, vocab_size: 50 };
  const d = parseDebertaV2Config(base);
  // DebertaV2Config's own defaults: absolute positions on, no relative attention, 0 token types, eps 1e-7.
  assertEquals(
    [d.position_biased_input, d.relative_attention, d.type_vocab_size, d.layer_norm_eps, d.pos_att_type],
    [true, false, 0, 1e-7, []],
  );
  const shapes = new Map(debertaV2ParameterShapes(d));
  assert(shapes.has("deberta.embeddings.position_embeddings.weight"));
  assert(!shapes.has("deberta.encoder.rel_embeddings.weight"));
  // Separate position projections without share_att_key, embed_proj for a narrower embedding.
  const own = new Map(debertaV2ParameterShapes(parseDebertaV2Config({
    ...base,
    relative_attention: true,
    pos_att_type: "c2p|p2c",
    embedding_size: 16,
  })));
  assertEquals(own.get("deberta.encoder.layer.0.attention.self.pos_key_proj.weight"), [32, 32]);
  assertEquals(own.get("deberta.encoder.layer.0.attention.self.pos_query_proj.bias"), [32]);
  assertEquals(own.get("deberta.embeddings.embed_proj.weight"), [32, 16]);
  assertEquals(own.get("deberta.encoder.rel_embeddings.weight"), [1024, 32]); // 2 · max_position_embeddings
  const error = (json: Record<string, unknown>) => {
    try {
      parseDebertaV2Config({ ...base, ...json }, "x/config.json");
    } catch (e) {
      return (e as Error).message;
    }
    return "";
  };
  assert(error({ conv_kernel_size: 3 }).includes("conv_kernel_size 3"), error({ conv_kernel_size: 3 }));
  assert(
    error({ pos_att_type: "c2p|p2p" }).includes("pos_att_type 'p2p'"),
    error({ pos_att_type: "c2p|p2p" }),
  );
  assert(error({ share_att_key: "yes" }).startsWith("x/config.json: field 'share_att_key'"));
  assert(error({ hidden_act: "gelu_new" }).includes("hidden_act 'gelu_new'"));
  assert(error({ num_attention_heads: 5 }).includes("not a multiple of num_attention_heads 5"));
});

Deno.test("deberta-v2: from scratch is deberta-v3-base's architecture with HF's _init_weights", async () => {
  const c = makeModelConfig("deberta-v2", {
    vocab_size: 300,
    hidden_size: 32,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 64,
    pad_token_id: 0,
  }, LABELS);
  const json = modelConfigJson(c);
  assertEquals(
    [
      json.relative_attention,
      json.position_buckets,
      json.pos_att_type,
      json.share_att_key,
      json.norm_rel_ebd,
    ],
    [true, 256, ["p2c", "c2p"], true, "layer_norm"],
  );
  assertEquals([json.position_biased_input, json.type_vocab_size, json.pooler_hidden_size], [false, 0, 32]);
  const model = randomModel(c, 3);
  assert(model instanceof DebertaV2ForTokenClassification);
  const names = ["deberta.embeddings.word_embeddings.weight", "deberta.encoder.rel_embeddings.weight"];
  const [word, rel, lnw, qb] = await readAll([
    ...names.map((n) => model.params.get(n)!),
    model.params.get("deberta.encoder.LayerNorm.weight")!,
    model.params.get("deberta.encoder.layer.0.attention.self.query_proj.bias")!,
  ]);
  assert(word.subarray(0, 32).every((x) => x === 0), "the padding row is zero");
  const std = Math.sqrt(Array.from(rel).reduce((s, x) => s + x * x, 0) / rel.length);
  assert(Math.abs(std - 0.02) < 0.002, `rel_embeddings std ${std}`);
  assert(rel.subarray(0, 32).some((x) => x !== 0), "rel_embeddings has no padding row");
  assert(lnw.every((x) => x === 1) && qb.every((x) => x === 0), "LayerNorm 1, biases 0");
  assert(
    model.decays("deberta.encoder.rel_embeddings.weight") &&
      !model.decays("deberta.encoder.LayerNorm.weight"),
  );
  model.dispose();
});

Deno.test("deberta-v2: a tiny run from the fixture trains, saves, reloads bit-identically and predicts the same", async () => {
  const dir = await Deno.makeTempDir();
  const { model } = await fromPretrained(fixture("deberta-v3-tiny-parity-std01"));
  const B = 4, T = 12;
  const inputIds = Int32Array.from({ length: B * T }, (_, i) => 3 + ((i * 37) % 990));
  const attentionMask = Int32Array.from({ length: B * T }, (_, i) => (i % T < T - (i / T | 0) * 2 ? 1 : 0));
  const labels = Int32Array.from({ length: B * T }, (_, i) => (attentionMask[i] ? inputIds[i] % 9 : -100));
  const batch = { batch: B, seqLen: T, inputIds, attentionMask, labels };
  const opt = new AdamW(
    model.namedParameters().map(([n, p]) => ({ param: p, weightDecay: model.decays(n) ? 0.01 : 0 })),
    { lr: 3e-3 },
  );
  const losses: number[] = [];
  model.train();
  for (let step = 0; step < 8; step++) {
    losses.push(
      await tidy(async () => {
        const { loss } = model.forward(batch);
        backward(loss!);
        opt.step();
        return (await loss!.read())[0];
      }),
    );
    opt.zeroGrad();
  }
  assert(losses[7] < losses[0] * 0.7, `loss did not fall: ${losses.map((l) => l.toFixed(3))}`);
  model.eval();
  await savePretrained(model, dir);
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  assertEquals([saved.model_type, saved.architectures, saved.pos_att_type], [
    "deberta-v2",
    ["DebertaV2ForTokenClassification"],
    ["p2c", "c2p"],
  ]);
  const again = (await fromPretrained(dir)).model;
  const names = [...model.params.keys()];
  assertEquals([...again.params.keys()], names);
  const [a, b] = await Promise.all([
    readAll(names.map((n) => model.params.get(n)!)),
    readAll(names.map((n) => again.params.get(n)!)),
  ]);
  names.forEach((n, i) => assert(a[i].every((x, j) => Object.is(x, b[i][j])), `${n} is not bit-identical`));
  const predict = (m: typeof model) =>
    tidy(() => noGrad(() => m.forward({ batch: B, seqLen: T, inputIds, attentionMask }).logits.read()));
  const [la, lb] = [await predict(model), await predict(again)];
  assert(la.every((x, i) => Object.is(x, lb[i])), "reloaded model predicts differently");
  opt.dispose();
  model.dispose();
  again.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deberta-v2: v2-style configs run too (absolute positions, token types, embed_proj, own position projections)", async () => {
  for (
    const extra of [
      { relative_attention: false, pos_att_type: [], type_vocab_size: 2 },
      { relative_attention: true, pos_att_type: "c2p|p2c", share_att_key: false, embedding_size: 16 },
    ]
  ) {
    const c = parseDebertaV2Config({
      model_type: "deberta-v2",
      vocab_size: 50,
      hidden_size: 32,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      intermediate_size: 48,
      max_position_embeddings: 20,
      id2label: { 0: "O", 1: "B-PER", 2: "I-PER" },
      ...extra,
    });
    const model = randomModel(c, 5);
    const B = 2, T = 9;
    const inputIds = Int32Array.from({ length: B * T }, (_, i) => 1 + (i * 7) % 49);
    const labels = Int32Array.from({ length: B * T }, (_, i) => i % 3);
    const attentionMask = Int32Array.from({ length: B * T }, (_, i) => (i < 15 ? 1 : 0));
    const grads = await tidy(async () => {
      const { loss } = model.forward({ batch: B, seqLen: T, inputIds, attentionMask, labels });
      backward(loss!);
      return await readAll([loss!, ...[...model.params.values()].map((p) => p.grad!)]);
    });
    assert(grads.every((g) => g.every(Number.isFinite)), "finite loss and gradients");
    const names = [...model.params.keys()];
    const dead = names.filter((_, i) => grads[i + 1].every((x) => x === 0));
    assertEquals(dead, [], "every parameter gets a gradient");
    model.dispose();
  }
});

const TRAIN_CLI = new URL("../../src/train/cli.ts", import.meta.url).pathname;
const PREDICT_CLI = new URL("../../src/pipeline/cli.ts", import.meta.url).pathname;
const UNIGRAM = new URL("../fixtures/tokenizers/unigram-deberta-v3/", import.meta.url).pathname;

async function runDeno(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("deberta-v2: `train --from-scratch --model-type deberta-v2` trains, saves a DeBERTa folder that reloads bit-identically, and predicts", async () => {
  const dir = await Deno.makeTempDir();
  const train = await runDeno([
    TRAIN_CLI,
    "--from-scratch",
    "--model-type",
    "deberta-v2",
    "--tokenizer",
    UNIGRAM,
    "--hidden-size",
    "32",
    "--num-hidden-layers",
    "1",
    "--num-attention-heads",
    "2",
    "--intermediate-size",
    "64",
    "--max-train-samples",
    "40",
    "--max-eval-samples",
    "20",
    "--max-steps",
    "4",
    "--learning-rate",
    "1e-3",
    "--logging-steps",
    "1",
    "--output-dir",
    dir,
  ]);
  assertEquals(train.code, 0, train.stderr);
  const summary = JSON.parse(train.stdout.trim().split("\n").pop()!);
  assertEquals(summary.global_step, 4);
  const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  assertEquals([config.model_type, config.architectures], ["deberta-v2", [
    "DebertaV2ForTokenClassification",
  ]]);
  assertEquals(
    [
      config.relative_attention,
      config.position_buckets,
      config.pos_att_type,
      config.share_att_key,
      config.norm_rel_ebd,
    ],
    [true, 256, ["p2c", "c2p"], true, "layer_norm"],
  );
  assertEquals([config.hidden_size, config.num_hidden_layers, config.vocab_size], [32, 1, 825]);
  const tok = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
  assertEquals(tok.tokenizer_class, "DebertaV2Tokenizer");
  // Reload and save again: the weights file is byte-for-byte the same.
  const { model, report } = await fromPretrained(dir);
  assertEquals([report.unused, report.newlyInitialized], [[], []]);
  const again = await Deno.makeTempDir();
  await savePretrained(model, again);
  const [a, b] = [
    await Deno.readFile(`${dir}/model.safetensors`),
    await Deno.readFile(`${again}/model.safetensors`),
  ];
  assert(a.length === b.length && a.every((x, i) => x === b[i]), "model.safetensors is not bit-identical");
  model.dispose();
  const predict = await runDeno([
    PREDICT_CLI,
    "--model",
    dir,
    "--aggregation",
    "none",
    "My name is Sylvain and I work at Hugging Face in Brooklyn.",
  ]);
  assertEquals(predict.code, 0, predict.stderr);
  const tokens = JSON.parse(predict.stdout.trim().split("\n")[0]);
  assert(Array.isArray(tokens) && tokens.length > 0, predict.stdout);
  for (const t of tokens) {
    assert(t.entity in config.label2id, `unknown label ${t.entity}`);
    assert(t.start < t.end && typeof t.score === "number", JSON.stringify(t));
  }
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(again, { recursive: true });
});

Deno.test("deberta-v2: `train --model <deberta fixture>` fine-tunes it with the Unigram tokenizer and saves it as DeBERTa", async () => {
  const dir = await Deno.makeTempDir();
  const train = await runDeno([
    TRAIN_CLI,
    "--model",
    fixture("deberta-v3-tiny-parity"),
    "--tokenizer",
    UNIGRAM,
    "--max-train-samples",
    "24",
    "--max-eval-samples",
    "8",
    "--max-steps",
    "3",
    "--learning-rate",
    "1e-3",
    "--output-dir",
    dir,
  ]);
  assertEquals(train.code, 0, train.stderr);
  assertEquals(JSON.parse(train.stdout.trim().split("\n").pop()!).global_step, 3);
  const saved = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
  const original = JSON.parse(await Deno.readTextFile(`${fixture("deberta-v3-tiny-parity")}config.json`));
  for (
    const k of [
      "model_type",
      "architectures",
      "pos_att_type",
      "position_buckets",
      "layer_norm_eps",
      "vocab_size",
    ]
  ) {
    assertEquals(saved[k], original[k], k);
  }
  const { model } = await fromPretrained(dir);
  const before = (await fromPretrained(fixture("deberta-v3-tiny-parity"))).model;
  const name = "deberta.encoder.rel_embeddings.weight";
  const [a, b] = await readAll([model.params.get(name)!, before.params.get(name)!]);
  assert(a.some((x, i) => x !== b[i]), "training changed the relative embeddings");
  model.dispose();
  before.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("deberta-v2: bare keys load with the deberta. prefix; position_embeddings is dropped silently as HF does", async () => {
  const dir = await Deno.makeTempDir();
  const src = fixture("deberta-v3-tiny-parity");
  const original = await readSafetensors(`${src}model.safetensors`);
  const tensors = [...original.tensors].map(([k, t]) => ({
    name: k.replace(/^deberta\./, ""),
    dtype: "F32" as const,
    shape: t.shape,
    data: toFloat32(t),
  }));
  tensors.push(
    {
      name: "deberta.embeddings.position_embeddings.weight",
      dtype: "F32",
      shape: [4, 32],
      data: new Float32Array(128),
    },
    { name: "lm_predictions.lm_head.bias", dtype: "F32", shape: [3], data: new Float32Array(3) },
  );
  await Deno.writeFile(`${dir}/model.safetensors`, serializeSafetensors(tensors));
  await Deno.copyFile(`${src}config.json`, `${dir}/config.json`);
  const { model, report } = await fromPretrained(dir);
  assertEquals(report.unused, ["lm_predictions.lm_head.bias"]);
  assertEquals(report.newlyInitialized, []);
  const [a] = await readAll([model.params.get("deberta.encoder.rel_embeddings.weight")!]);
  assert(
    a.every((x, i) => x === toFloat32(original.tensors.get("deberta.encoder.rel_embeddings.weight")!)[i]),
  );
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});
