/**
 * Token classifiers on the engine: the model seam (`TokenClassifier`, `ModelFamily`), the registry keyed
 * by `model_type`, the families (BertForTokenClassification, …), their configs, the fused Q/K/V attention
 * projection, row-chunked word embeddings for tables over the device's binding limit, and Hugging Face
 * checkpoints in and out.
 * @module
 */
export * from "./classifier.ts";
export * from "./chunked.ts";
export * from "./fused_qkv.ts";
export * from "./registry.ts";
export * from "./config.ts";
export * from "./bert.ts";
export * from "./deberta_v2.ts";
export * from "./distilbert.ts";
export * from "./electra.ts";
export * from "./roberta.ts";
export * from "./pretrained.ts";
export { type ParityResult, runParity } from "./parity.ts";
