// `deno task train --from-scratch --model-type <family>` for DistilBERT, RoBERTa, XLM-R and ELECTRA: a
// 2-step run writes an HF folder whose config.json carries the family's own fields, model_type and
// architectures; the folder reloads bit-identically (re-saved weights equal the file) and predicts.
import { assert, assertEquals } from "../_assert.ts";
import { fromPretrained, modelSafetensors } from "../../src/model/pretrained.ts";
import { pipeline } from "../../src/pipeline/pipeline.ts";
import { setupGpu } from "../_util.ts";
import { TINY_FROM_SCRATCH } from "../_cli_args.ts";

await setupGpu();
const CLI = new URL("../../src/train/cli.ts", import.meta.url).pathname;
const SMALL = [
  ...TINY_FROM_SCRATCH,
  "--max-position-embeddings",
  "128",
  "--max-train-samples",
  "24",
  "--max-steps",
  "2",
  "--eval-strategy",
  "no",
  "--save-strategy",
  "no",
  "--logging-steps",
  "1",
];

const text = (b: Uint8Array) => new TextDecoder().decode(b);

const CASES: [string, string, Record<string, unknown>][] = [
  ["distilbert", "DistilBertForTokenClassification", { dim: 32, n_layers: 1, n_heads: 2, hidden_dim: 64 }],
  // bert-base-cased's [PAD] is 0: the position table holds 128 usable rows after padding_idx 0.
  ["roberta", "RobertaForTokenClassification", {
    hidden_size: 32,
    type_vocab_size: 1,
    layer_norm_eps: 1e-5,
    pad_token_id: 0,
    max_position_embeddings: 129,
  }],
  ["xlm-roberta", "XLMRobertaForTokenClassification", { type_vocab_size: 1 }],
  ["electra", "ElectraForTokenClassification", { hidden_size: 32, embedding_size: 128 }],
];

for (const [type, arch, fields] of CASES) {
  Deno.test(`train CLI: --from-scratch --model-type ${type} trains, saves, reloads and predicts`, async () => {
    const dir = await Deno.makeTempDir();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, ...SMALL, "--model-type", type, "--output-dir", dir],
      env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, text(out.stderr));
    assert(text(out.stderr).includes(`from scratch, ${type},`), text(out.stderr));
    assertEquals(JSON.parse(text(out.stdout).trim().split("\n").pop()!).global_step, 2);
    const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
    assertEquals([config.model_type, config.architectures], [type, [arch]]);
    for (const [k, v] of Object.entries(fields)) assertEquals(config[k], v, k);
    // The shipped tokenizer is WordPiece: its class stays BertTokenizer-style whatever the model.
    const tok = JSON.parse(await Deno.readTextFile(`${dir}/tokenizer_config.json`));
    assertEquals(
      tok.tokenizer_class,
      type === "distilbert"
        ? "DistilBertTokenizer"
        : type === "electra"
        ? "ElectraTokenizer"
        : "BertTokenizer",
    );
    assertEquals(tok.model_max_length, 128);

    const { model } = await fromPretrained(dir);
    const file = await Deno.readFile(`${dir}/model.safetensors`);
    const again = await modelSafetensors(model);
    assert(file.length === again.length && file.every((b, i) => b === again[i]), "re-saved weights differ");
    model.dispose();

    const ner = await pipeline("token-classification", { model: dir, onLoad: () => {} });
    try {
      const sentence = "EU rejects German call to boycott British lamb .";
      const [tokens] = await ner.predictTokens([sentence]);
      assert(
        tokens.tokens.length >= 9 && tokens.logits.every(Number.isFinite),
        JSON.stringify(tokens.tokens),
      );
    } finally {
      ner.dispose();
    }
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("train CLI: an unknown --model-type is a usage error naming the supported ones", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CLI, ...SMALL, "--model-type", "gpt2", "--output-dir", await Deno.makeTempDir()],
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 2);
  assert(
    /--model-type gpt2: .*not supported \(supported: bert, roberta/.test(text(out.stderr)),
    text(out.stderr),
  );
});
