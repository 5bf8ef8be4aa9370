// The model card's YAML front matter is what the Hub reads: license, pipeline_tag, datasets (Hub ids
// only), base_model only for a Hub base model, the model-index results layout, and quoted scalars.
import { assert, assertEquals } from "../_assert.ts";
import { modelCard, type ModelCardInput } from "../../src/train/model_card.ts";
import { DEFAULT_TRAINING_ARGS } from "../../src/train/args.ts";

function card(over: Partial<ModelCardInput> = {}): { yaml: string; body: string } {
  const text = modelCard({
    modelName: "bert-finetuned-ner",
    baseModel: "bert-base-cased",
    datasetName: "conll2003",
    args: DEFAULT_TRAINING_ARGS,
    logHistory: [],
    finalEval: { eval_precision: 0.9, eval_recall: 0.8, eval_f1: 0.85, eval_accuracy: 0.97, eval_loss: 0.1 },
    ...over,
  });
  const [, yaml, ...rest] = text.split("---\n");
  return { yaml, body: rest.join("---\n") };
}

/** Every line is `key: scalar`, `key:`, `- scalar` or `- key: scalar`; scalars plain-safe or JSON-quoted. */
function checkYamlLines(yaml: string): void {
  for (const line of yaml.trimEnd().split("\n")) {
    const m = /^( *)(- )?(?:([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?|(.*))$/.exec(line);
    assert(m, `not a YAML line: ${line}`);
    const scalar = m[4] ?? m[5];
    if (scalar === undefined || scalar === "[]") continue;
    if (scalar.startsWith('"')) JSON.parse(scalar);
    else assert(!/[:#]\s|^[\[{&*!|>'"%@`]/.test(scalar), `unquoted scalar needs quotes: ${line}`);
  }
}

Deno.test("model card: Hub metadata for a fine-tuned model (base_model, license, pipeline_tag, model-index)", () => {
  const { yaml, body } = card({ hubUrl: "https://huggingface.co/alice/bert-finetuned-ner" });
  checkYamlLines(yaml);
  for (
    const l of [
      "library_name: transformers",
      "license: apache-2.0",
      "base_model: bert-base-cased",
      "pipeline_tag: token-classification",
      "datasets:\n- conll2003",
      "model-index:\n- name: bert-finetuned-ner\n  results:\n  - task:\n      name: Token Classification\n" +
      "      type: token-classification\n    dataset:\n      name: conll2003\n      type: conll2003\n" +
      "      split: validation\n    metrics:\n    - name: Precision\n      type: precision\n      value: 0.9\n",
    ]
  ) assert(yaml.includes(l), `missing ${JSON.stringify(l)} in\n${yaml}`);
  assert(body.includes("https://huggingface.co/alice/bert-finetuned-ner"), "the card names the repo");
});

Deno.test("model card: from scratch or a local base has no base_model; odd names are quoted; no eval → results: []", () => {
  const scratch = card({
    baseModel: null,
    finalEval: null,
    modelName: "my: model #1",
    datasetName: "/data/my conll",
  });
  checkYamlLines(scratch.yaml);
  assert(!scratch.yaml.includes("base_model"), scratch.yaml);
  assert(scratch.yaml.includes('- name: "my: model #1"\n  results: []'), scratch.yaml);
  assert(!scratch.yaml.includes("datasets:") && !scratch.yaml.includes("metrics:"), scratch.yaml);
  const local = card({ baseModel: "/home/u/my-bert" });
  assert(!local.yaml.includes("base_model"), local.yaml);
  const nan = card({ finalEval: { eval_f1: NaN, eval_precision: 0.5 } });
  assertEquals(nan.yaml.includes("value: NaN"), false);
  assert(nan.yaml.includes("type: precision"), nan.yaml);
});
