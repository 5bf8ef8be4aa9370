/**
 * Building blocks shared by the BERT-style families (BERT, RoBERTa/XLM-R/CamemBERT, ELECTRA), as HF's
 * modeling files share `BertLayer`: the post-LayerNorm encoder layer (self-attention with the additive
 * mask `(1 − m)·f32 min`, output dense + dropout + residual LayerNorm, intermediate dense + exact-erf GELU,
 * output dense + dropout + residual LayerNorm) with its parameter shapes, input checks, and the token
 * classification head (dropout, linear, CrossEntropy with ignore_index −100).
 * @module
 */
import { crossEntropy } from "../ops/cross_entropy.ts";
import { reshape } from "../ops/elementwise.ts";
import { checkIds } from "../ops/embedding.ts";
import { addLayerNorm } from "../ops/layernorm.ts";
import { linear, linearGelu } from "../ops/matmul.ts";
import { Tensor } from "../engine/tensor.ts";
import type { DropoutSeeds, DropoutSpec } from "../ops/dropout.ts";
import type { TokenBatch, TokenClassifierOutput } from "./classifier.ts";
import { type Projection, qkvAttention } from "./fused_qkv.ts";

/** What a layer function needs from its model: parameters by name, dropout, mode and seeds. */
export interface LayerHost {
  /** The parameter `name`. */
  p(name: string): Tensor;
  /** Dropout in training mode, identity otherwise. */
  drop(x: Tensor, p: number): Tensor;
  /** The same dropout for a kernel that fuses it (its seed drawn now), or undefined when it is identity. */
  dropSpec(p: number): DropoutSpec | undefined;
  /** Training mode. */
  readonly training: boolean;
  /** Dropout seed stream. */
  readonly seeds: DropoutSeeds;
}

/** The BertLayer hyperparameters (HF names). */
export interface BertLayerConfig {
  num_attention_heads: number;
  attention_probs_dropout_prob: number;
  hidden_dropout_prob: number;
  layer_norm_eps: number;
}

/** Parameter shapes of one BertLayer under `prefix` (e.g. `roberta.encoder.layer.0`), in HF order. */
export function bertLayerShapes(prefix: string, hidden: number, inter: number): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (const m of ["query", "key", "value"]) {
    out.push([`${prefix}.attention.self.${m}.weight`, [hidden, hidden]], [
      `${prefix}.attention.self.${m}.bias`,
      [hidden],
    ]);
  }
  out.push(
    [`${prefix}.attention.output.dense.weight`, [hidden, hidden]],
    [`${prefix}.attention.output.dense.bias`, [hidden]],
    [`${prefix}.attention.output.LayerNorm.weight`, [hidden]],
    [`${prefix}.attention.output.LayerNorm.bias`, [hidden]],
    [`${prefix}.intermediate.dense.weight`, [inter, hidden]],
    [`${prefix}.intermediate.dense.bias`, [inter]],
    [`${prefix}.output.dense.weight`, [hidden, inter]],
    [`${prefix}.output.dense.bias`, [hidden]],
    [`${prefix}.output.LayerNorm.weight`, [hidden]],
    [`${prefix}.output.LayerNorm.bias`, [hidden]],
  );
  return out;
}

/** One BertLayer (HF eager semantics) on `x` (B, T, H) with the (B, T) 1/0 `mask`. */
export function bertLayer(
  m: LayerHost,
  prefix: string,
  x: Tensor,
  mask: Tensor,
  c: BertLayerConfig,
): Tensor {
  const p = (s: string) => m.p(`${prefix}.${s}`);
  const proj = (
    name: string,
  ): Projection => [p(`attention.self.${name}.weight`), p(`attention.self.${name}.bias`)];
  const attnP = m.training ? c.attention_probs_dropout_prob : 0;
  // Q, K and V as one [3h, h] product (src/model/fused_qkv.ts); the parameters keep their HF names.
  const ctx = qkvAttention(x, proj("query"), proj("key"), proj("value"), mask, c.num_attention_heads, {
    dropoutP: attnP,
    seed: attnP > 0 ? m.seeds.next() : 0,
  });
  return bertLayerOutput(m, prefix, ctx, x, c);
}

/**
 * The part of a BertLayer after self-attention, shared by every BERT-style family (DeBERTa included):
 * `attention.output` (dense, dropout, residual, LayerNorm), `intermediate` (dense, GELU) and `output`
 * (dense, dropout, residual, LayerNorm) on the attention context `ctx` (B, T, H) and the layer input `x`.
 */
export function bertLayerOutput(
  m: LayerHost,
  prefix: string,
  ctx: Tensor,
  x: Tensor,
  c: Pick<BertLayerConfig, "hidden_dropout_prob" | "layer_norm_eps">,
): Tensor {
  const p = (s: string) => m.p(`${prefix}.${s}`);
  // dense → dropout → residual → LayerNorm: the dropout runs inside the add + LayerNorm kernels
  const h = addLayerNorm(
    linear(ctx, p("attention.output.dense.weight"), p("attention.output.dense.bias")),
    x,
    p("attention.output.LayerNorm.weight"),
    p("attention.output.LayerNorm.bias"),
    c.layer_norm_eps,
    m.dropSpec(c.hidden_dropout_prob),
  );
  // intermediate dense + GELU: the GELU in the product's epilogue where the path allows (values unchanged)
  const inter = linearGelu(h, p("intermediate.dense.weight"), p("intermediate.dense.bias"));
  return addLayerNorm(
    linear(inter, p("output.dense.weight"), p("output.dense.bias")),
    h,
    p("output.LayerNorm.weight"),
    p("output.LayerNorm.bias"),
    c.layer_norm_eps,
    m.dropSpec(c.hidden_dropout_prob),
  );
}

/**
 * Checks a batch's sizes, its ids against the vocabulary and its length against `maxLength` (the usable
 * positions), and uploads input_ids (B, T) i32 and the attention mask (B, T) f32 (all 1 when absent).
 */
export function batchInputs(
  batch: TokenBatch,
  vocabSize: number,
  maxLength: number,
): { ids: Tensor; mask: Tensor } {
  const { batch: B, seqLen: T } = batch;
  if (batch.inputIds.length !== B * T) {
    throw new RangeError(`inputIds has ${batch.inputIds.length} values, expected ${B}×${T}`);
  }
  if (T > maxLength) {
    throw new RangeError(`sequence length ${T} exceeds the model's ${maxLength} positions`);
  }
  checkIds(batch.inputIds, vocabSize, "input_ids");
  const ids = Tensor.from(batch.inputIds, [B, T], "i32", "input_ids");
  const maskHost = batch.attentionMask
    ? Float32Array.from(batch.attentionMask)
    : new Float32Array(B * T).fill(1);
  return { ids, mask: Tensor.from(maskHost, [B, T], "f32", "attention_mask") };
}

/** (B, T) positions 0..T−1 of every row (HF's default `position_ids`). */
export function arangePositions(B: number, T: number): Tensor {
  return Tensor.from(Int32Array.from({ length: B * T }, (_, i) => i % T), [B, T], "i32", "position_ids");
}

/** The (B, T) token-type ids (default all 0), checked against `typeVocabSize`. */
export function tokenTypes(batch: TokenBatch, typeVocabSize: number): Tensor {
  const { batch: B, seqLen: T } = batch;
  const host = batch.tokenTypeIds ?? new Int32Array(B * T);
  checkIds(host, typeVocabSize, "token_type_ids");
  return Tensor.from(host, [B, T], "i32", "token_type_ids");
}

/**
 * The token-classification head: dropout(`dropoutP`) → `classifier` linear → logits (B, T, L), and with
 * labels the mean CrossEntropy over labelled positions (ignore_index −100).
 */
export function tokenClassificationHead(
  m: LayerHost,
  x: Tensor,
  dropoutP: number,
  batch: TokenBatch,
  numLabels: number,
  prefix = "classifier",
): TokenClassifierOutput {
  const { batch: B, seqLen: T } = batch;
  const logits = linear(m.drop(x, dropoutP), m.p(`${prefix}.weight`), m.p(`${prefix}.bias`));
  if (!batch.labels) return { logits };
  if (batch.labels.length !== B * T) {
    throw new RangeError(`labels has ${batch.labels.length} values, expected ${B}×${T}`);
  }
  const labels = Tensor.from(batch.labels, [B * T], "i32", "labels");
  return { logits, loss: crossEntropy(reshape(logits, [B * T, numLabels]), labels) };
}
