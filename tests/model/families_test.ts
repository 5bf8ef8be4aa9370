// The model families on the seam (DistilBERT, RoBERTa/XLM-R/CamemBERT, ELECTRA): parity with PyTorch on
// the shared fixtures, family semantics (RoBERTa position ids, decay grouping by module type, ELECTRA's
// projection), configs that round-trip with the family's own field names, and a tiny run per family from
// its fixture that trains, saves, reloads bit-identically and predicts.
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { runParity } from "../../src/model/parity.ts";
import { robertaPositionIds } from "../../src/model/roberta.ts";
import {
  familyFor,
  makeModelConfig,
  modelConfigJson,
  modelTypes,
  parseModelConfig,
  randomModel,
} from "../../src/model/registry.ts";
import { ConfigError } from "../../src/model/classifier.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { loadConll2003 } from "../../src/data/conll2003.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { tokenizeAndAlign } from "../../src/data/prepare.ts";
import { readAll } from "../../src/engine/tensor.ts";
import { DEFAULT_TRAINING_ARGS } from "../../src/train/args.ts";
import { Trainer } from "../../src/train/trainer.ts";
import { pipeline } from "../../src/pipeline/pipeline.ts";
import { readSafetensors } from "../../src/io/safetensors.ts";
import { setupGpu } from "../_util.ts";
import { BERT_STYLE, ROBERTA_STYLE, writeCharTokenizer } from "./_char_tokenizer.ts";

await setupGpu();
const fixture = (name: string) => new URL(`../fixtures/${name}/`, import.meta.url).pathname;

// Parameter tensor counts from each fixture's golden.json (`n_parameter_tensors`).
const PARITY: [string, number][] = [
  ["distilbert-tiny-parity", 38],
  ["distilbert-tiny-parity-std01", 38],
  ["roberta-tiny-parity", 39],
  ["roberta-tiny-parity-std01", 39],
  ["electra-tiny-parity", 41],
  ["electra-tiny-parity-std01", 41],
];

for (const [name, tensors] of PARITY) {
  Deno.test(`families: ${name} matches PyTorch within BERT's tolerances`, async () => {
    const golden = JSON.parse(await Deno.readTextFile(`${fixture(name)}golden.json`));
    assertEquals(golden.n_parameter_tensors, tensors);
    const r = await runParity(fixture(name), `${fixture(name)}golden.safetensors`);
    assertEquals(r.failures, []);
    assert(r.logits_max_abs <= 1e-5 && r.loss_abs <= 1e-5, JSON.stringify(r));
    assert(r.grad_worst_ratio <= 1 && r.adamw_update_worst_abs <= 2e-5, JSON.stringify(r));
    assertEquals(r.tensors_compared, 2 + 2 * tensors);
  });
}

Deno.test("families: a wrong family semantics fails parity (DistilBERT decays its sa_layer_norm by name rule)", async () => {
  // Loading the DistilBERT fixture as if its LayerNorms were decayed by a name-only rule must fail: the
  // check can tell the grouping apart. Simulated by patching decays on the loaded model's class.
  const { DistilBertForTokenClassification } = await import("../../src/model/distilbert.ts");
  const original = DistilBertForTokenClassification.prototype.decays;
  DistilBertForTokenClassification.prototype.decays = (n: string) =>
    !n.endsWith(".bias") && !n.includes("LayerNorm");
  try {
    const name = "distilbert-tiny-parity-std01";
    const r = await runParity(fixture(name), `${fixture(name)}golden.safetensors`);
    assert(!r.pass, "parity passed with the wrong decay grouping");
    assert(r.failures.some((f) => f.includes("layer_norm")), r.failures.join("\n"));
  } finally {
    DistilBertForTokenClassification.prototype.decays = original;
  }
});

Deno.test("families: RoBERTa position ids are padding_idx + cumulative count of non-pad tokens", () => {
  // HF create_position_ids_from_input_ids with padding_idx 1: <s> a b </s> <pad> <pad> → 2 3 4 5 1 1.
  const ids = Int32Array.from([0, 50, 51, 2, 1, 1, 0, 7, 2, 1, 1, 1]);
  assertEquals([...robertaPositionIds(ids, 6, 1)], [2, 3, 4, 5, 1, 1, 2, 3, 4, 1, 1, 1]);
  // A pad id inside the sequence (never produced by tokenizers) is still a padding position.
  assertEquals([...robertaPositionIds(Int32Array.from([0, 1, 9]), 3, 1)], [2, 1, 3]);
});

Deno.test("families: weight decay is off for biases and every LayerNorm module, whatever its name", () => {
  const labels = ["O", "B-X"];
  const small = { hidden_size: 8, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 16 };
  const cases: [string, string[], string[]][] = [
    ["distilbert", [
      "distilbert.transformer.layer.0.attention.q_lin.weight",
      "distilbert.transformer.layer.0.ffn.lin1.weight",
    ], [
      "distilbert.transformer.layer.0.sa_layer_norm.weight",
      "distilbert.transformer.layer.0.output_layer_norm.weight",
      "distilbert.embeddings.LayerNorm.weight",
      "distilbert.transformer.layer.0.ffn.lin1.bias",
    ]],
    ["roberta", ["roberta.embeddings.position_embeddings.weight", "classifier.weight"], [
      "roberta.encoder.layer.0.output.LayerNorm.weight",
      "classifier.bias",
    ]],
    ["electra", ["electra.embeddings_project.weight"], [
      "electra.embeddings.LayerNorm.bias",
      "electra.embeddings_project.bias",
    ]],
  ];
  for (const [type, decayed, notDecayed] of cases) {
    const m = randomModel(makeModelConfig(type, { ...small, vocab_size: 50, embedding_size: 4 }, labels), 3);
    try {
      for (const n of decayed) assert(m.params.has(n) && m.decays(n), `${type}: ${n} should decay`);
      for (const n of notDecayed) assert(m.params.has(n) && !m.decays(n), `${type}: ${n} should not decay`);
    } finally {
      m.dispose();
    }
  }
});

Deno.test("families: from-scratch configs use the family's field names, model_type and architectures, and round-trip", () => {
  const labels = ["O", "B-PER", "I-PER"];
  const fields = {
    vocab_size: 100,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    max_position_embeddings: 64,
  };
  const expect: [string, string, Record<string, unknown>][] = [
    ["distilbert", "DistilBertForTokenClassification", { dim: 16, n_layers: 2, n_heads: 2, hidden_dim: 32 }],
    ["roberta", "RobertaForTokenClassification", {
      hidden_size: 16,
      pad_token_id: 1,
      max_position_embeddings: 66,
      type_vocab_size: 1,
      layer_norm_eps: 1e-5,
    }],
    ["xlm-roberta", "XLMRobertaForTokenClassification", { max_position_embeddings: 66 }],
    ["camembert", "CamembertForTokenClassification", { type_vocab_size: 1 }],
    ["electra", "ElectraForTokenClassification", { embedding_size: 128, hidden_size: 16 }],
  ];
  for (const [type, arch, own] of expect) {
    const config = makeModelConfig(type, fields, labels);
    const json = modelConfigJson(config);
    assertEquals(json.model_type, type);
    assertEquals(json.architectures, [arch]);
    for (const [k, v] of Object.entries(own)) assertEquals(json[k], v, `${type}.${k}`);
    if (type === "distilbert") assert(!("hidden_size" in json), "DistilBERT writes dim, not hidden_size");
    const back = parseModelConfig(JSON.parse(JSON.stringify(json)), "x/config.json");
    assertEquals(modelConfigJson(back), json);
    assertEquals({ ...back, extra: {} }, { ...config, extra: {} });
    // A config without model_type is recognised by its architectures.
    const { model_type: _, ...noType } = json;
    assertEquals(parseModelConfig(noType).model_type, type);
  }
  assertThrows(
    () => parseModelConfig({ model_type: "gpt2" }, "m/config.json"),
    ConfigError,
    "m/config.json: model_type 'gpt2' is not supported (supported: bert",
  );
  assertThrows(
    () => parseModelConfig({ model_type: "distilbert", dim: 30, n_heads: 4 }),
    ConfigError,
    "n_heads",
  );
  assertThrows(
    () => parseModelConfig({ model_type: "roberta", hidden_act: "relu" }),
    ConfigError,
    "hidden_act",
  );
  assert(
    ["distilbert", "roberta", "xlm-roberta", "camembert", "electra"].every((t) => modelTypes().includes(t)),
  );
  assertEquals(familyFor("xlm-roberta").tokenizerClass("xlm-roberta"), "XLMRobertaTokenizer");
});

// A tiny run per family from its fixture: train 3 steps on CoNLL sentences, save, reload, predict.
const data = await loadConll2003();
const NAMES = [...data.train.features.ner_tags.names];
const RUNS: [string, string, typeof BERT_STYLE, string[], string][] = [
  [
    "distilbert-tiny-parity",
    "DistilBertForTokenClassification",
    BERT_STYLE,
    ["dim", "n_layers"],
    "DistilBertTokenizer",
  ],
  [
    "roberta-tiny-parity",
    "RobertaForTokenClassification",
    ROBERTA_STYLE,
    ["layer_norm_eps"],
    "BertTokenizer",
  ],
  [
    "electra-tiny-parity",
    "ElectraForTokenClassification",
    BERT_STYLE,
    ["embedding_size"],
    "ElectraTokenizer",
  ],
];

for (const [name, arch, specials, ownFields, tokenizerClass] of RUNS) {
  Deno.test(`families: ${name} trains, saves, reloads bit-identically and predicts`, async () => {
    const tokDir = await writeCharTokenizer(specials);
    const out = await Deno.makeTempDir();
    const tok = await loadTokenizer(tokDir);
    assertEquals(tok.padId, specials.pad[1]);
    const rows = { ...data.train, rows: data.train.rows.slice(0, 12) };
    const train = tokenizeAndAlign(rows, tok, { maxLength: 48 }).examples;
    const { model } = await fromPretrained(fixture(name), { labels: NAMES });
    const before = await readAll([...model.params.values()]);
    const trainer = new Trainer({
      model,
      args: {
        ...DEFAULT_TRAINING_ARGS,
        outputDir: out,
        learningRate: 3e-3,
        perDeviceTrainBatchSize: 4,
        maxSteps: 3,
        loggingSteps: 1,
        evalStrategy: "no",
        saveStrategy: "no",
      },
      train,
      padId: tok.padId,
      progress: false,
      tokenizerDir: tokDir,
    });
    const result = await trainer.train();
    trainer.optimizer.dispose();
    const losses = result.state.log_history.filter((e) => typeof e.loss === "number").map((e) => e.loss);
    assertEquals(losses.length, 3);
    assert(losses.every((l) => Number.isFinite(l)), JSON.stringify(losses));
    const trained = await readAll([...model.params.values()]);
    assert(trained.some((t, i) => t.some((v, j) => v !== before[i][j])), "training changed no weight");

    const config = JSON.parse(await Deno.readTextFile(`${out}/config.json`));
    assertEquals(config.architectures, [arch]);
    assertEquals(config.model_type, model.config.model_type);
    for (const f of ownFields) assert(f in config, `config.json lacks ${f}`);
    // The tokenizer class follows the tokenizer (these are WordPiece): the family's own for DistilBERT and
    // ELECTRA, BertTokenizer for a WordPiece vocabulary under RoBERTa (as tokenizer.save_pretrained writes).
    const tokConfig = JSON.parse(await Deno.readTextFile(`${out}/tokenizer_config.json`));
    assertEquals(tokConfig.tokenizer_class, tokenizerClass);

    const saved = await readSafetensors(`${out}/model.safetensors`);
    assertEquals([...saved.tensors.keys()].sort(), [...model.params.keys()].sort());
    const { model: again, report } = await fromPretrained(out);
    assertEquals(report.unused, []);
    assertEquals(report.newlyInitialized, []);
    assertEquals(again.config, model.config);
    const reloaded = await readAll([...again.params.values()]);
    [...model.params.keys()].forEach((n, i) => {
      const a = new Uint32Array(trained[i].buffer), b = new Uint32Array(reloaded[i].buffer);
      assert(
        a.length === b.length && a.every((v, j) => v === b[j]),
        `${n} is not bit-identical after reload`,
      );
    });
    again.dispose();
    model.dispose();

    const ner = await pipeline("token-classification", { model: out, onLoad: () => {} });
    try {
      const text = "EU rejects German call to boycott British lamb .";
      const [tokens] = await ner.predictTokens([text]);
      assertEquals(tokens.offsets.length, tokens.logits.length / NAMES.length);
      const entities = await ner.run(text);
      for (const e of entities) {
        assert(NAMES.includes(e.entity) && e.start >= 0 && e.end <= text.length, JSON.stringify(e));
      }
    } finally {
      ner.dispose();
    }
    await Deno.remove(out, { recursive: true });
    await Deno.remove(tokDir, { recursive: true });
  });
}

Deno.test("families: a from-scratch config too large for one device binding is refused before allocating", () => {
  const config = makeModelConfig("roberta", { vocab_size: 10_000_000 }, ["O", "B-X"]);
  assertThrows(() => randomModel(config), RangeError, "config: vocab_size 10000000 makes roberta.embeddings");
});
