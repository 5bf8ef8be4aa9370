// End to end on the GPU with the parity fixture model (tiny BERT, CoNLL labels, bert-base-cased ids):
// the scorer reproduces PyTorch's golden logits, the pipeline's logits are the model's forward (also per
// window for a long text), batches agree with single texts, and predictWords agrees with the forward.
import { assert, assertEquals } from "../_assert.ts";
import { assertClose, setupGpu } from "../_util.ts";
import { loadTokenizer } from "../../src/data/tokenizer.ts";
import { noGrad } from "../../src/engine/tape.ts";
import { tidy } from "../../src/engine/tensor.ts";
import { readSafetensors, toFloat32, toInt32 } from "../../src/io/safetensors.ts";
import type { TokenClassifier } from "../../src/model/classifier.ts";
import { fromPretrained } from "../../src/model/pretrained.ts";
import { type GroupedEntity, modelScorer, pipeline } from "../../src/pipeline/mod.ts";

await setupGpu();
const DIR = new URL("../fixtures/bert-tiny-parity/", import.meta.url).pathname;
const { model } = await fromPretrained(DIR);
const tokenizer = await loadTokenizer();
const L = 9;

/** The model's logits for one sequence of ids (special tokens included), straight from forward. */
function forward(m: TokenClassifier, ids: Int32Array): Promise<Float32Array> {
  return noGrad(() =>
    tidy(() => m.forward({ batch: 1, seqLen: ids.length, inputIds: ids }).logits.readF32())
  );
}

const TEXT = "My name is Sylvain and I work at Hugging Face in Brooklyn.";

Deno.test("gpu: the model scorer reproduces PyTorch's golden logits for the golden batch (1e-5)", async () => {
  const golden = await readSafetensors(`${DIR}golden.safetensors`);
  const ids = golden.tensors.get("input_ids")!;
  const [B, T] = ids.shape;
  const logits = await modelScorer(model).score({
    batch: B,
    seqLen: T,
    inputIds: toInt32(ids, "input_ids"),
    attentionMask: toInt32(golden.tensors.get("attention_mask")!, "attention_mask"),
    tokenTypeIds: new Int32Array(B * T),
  });
  assertClose(logits, toFloat32(golden.tensors.get("logits")!), { atol: 1e-5, rtol: 0 }, "logits");
});

Deno.test("gpu: pipeline(folder) logits are the model's forward; entities are exact text spans", async () => {
  const ner = await pipeline("token-classification", { model: DIR, aggregationStrategy: "simple" });
  try {
    assertEquals([ner.maxLength, ner.labels.length, ner.tokenizer.vocabSize], [64, L, 28996]);
    const [p] = await ner.predictTokens([TEXT]);
    const enc = tokenizer.encodeText(TEXT);
    const ref = await forward(model, enc.inputIds);
    assertClose(p.logits, ref.subarray(L, ref.length - L), { atol: 1e-5, rtol: 0 }, "pipeline logits");
    assertEquals(p.tokens, enc.tokens.slice(1, -1));
    const everything = await (await pipeline("ner", {
      model,
      aggregationStrategy: "first",
      ignoreLabels: [],
    })).run(TEXT);
    assert(everything.length > 0);
    for (const e of everything) assertEquals(TEXT.slice(e.start, e.end), e.word);
    assertEquals(everything[0].start, 0);
    assertEquals(everything[everything.length - 1].end, TEXT.length);
  } finally {
    ner.dispose();
  }
});

Deno.test("gpu: a long text is scored in 64-token windows; each token's logits come from its window's forward", async () => {
  const text = Array.from({ length: 60 }, (_, i) => `Ada Lovelace met Grace ${i} times in Brooklyn`).join(
    ". ",
  );
  const ner = await pipeline("ner", { model, stride: 20, batchSize: 4, aggregationStrategy: "average" });
  const [p] = await ner.predictTokens([text]);
  assert(p.windows.length > 10, `${p.windows.length} windows`);
  const cls = tokenizer.tokenToId("[CLS]")!, sep = tokenizer.tokenToId("[SEP]")!;
  // Window k covers [start, end); a token deep inside window 3 must carry window 3's forward logits.
  const w = p.windows[3];
  const ids = Int32Array.from([cls, ...p.inputIds.subarray(w.start, w.end), sep]);
  const ref = await forward(model, ids);
  const mid = w.start + 30;
  assertClose(
    p.logits.subarray(mid * L, (mid + 1) * L),
    ref.subarray(31 * L, 32 * L),
    { atol: 1e-5, rtol: 0 },
    "window logits",
  );
  const entities: GroupedEntity[] = await ner.run(text);
  for (const e of entities) assertEquals(text.slice(e.start, e.end), e.word);
  for (let i = 1; i < entities.length; i++) assert(entities[i].start >= entities[i - 1].end, "overlap");
});

Deno.test("gpu: a batch of texts gives the single-text results; predictWords is the first subtoken's argmax", async () => {
  const texts = [TEXT, "Hugging Face", "", "Zoë  went\tto São Paulo, (Brasil)!!", TEXT.repeat(3)];
  const ner = await pipeline("ner", { model, batchSize: 3, aggregationStrategy: "simple", ignoreLabels: [] });
  const together = await ner.run(texts);
  for (let i = 0; i < texts.length; i++) {
    const alone = await ner.run(texts[i]);
    assertEquals(
      together[i].map((e) => [e.entity_group, e.start, e.end]),
      alone.map((e) => [e.entity_group, e.start, e.end]),
    );
    together[i].forEach((e, j) => assert(Math.abs(e.score - alone[j].score) < 1e-5));
  }
  const words = ["Sylvain", "works", "at", "Hugging", "Face", "."];
  const [labels] = await ner.predictWords([words]);
  const enc = tokenizer.encodeWords(words);
  const ref = await forward(model, enc.inputIds);
  const expected = words.map((_, w) => {
    const t = enc.wordIds.indexOf(w);
    const row = Array.from(ref.subarray(t * L, (t + 1) * L));
    return ner.labels[row.indexOf(Math.max(...row))];
  });
  assertEquals(labels, expected);
});

Deno.test("gpu: scoring leaves the model's training flag as it was", async () => {
  model.train();
  await modelScorer(model).score({
    batch: 1,
    seqLen: 3,
    inputIds: Int32Array.from([101, 1422, 102]),
    attentionMask: Int32Array.from([1, 1, 1]),
    tokenTypeIds: new Int32Array(3),
  });
  assertEquals(model.training, true);
  model.eval();
});
