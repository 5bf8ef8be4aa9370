/**
 * BertForTokenClassification on the engine, its config, and Hugging Face checkpoints in and out.
 * @module
 */
export * from "./config.ts";
export * from "./bert.ts";
export * from "./pretrained.ts";
export { type ParityResult, runParity } from "./parity.ts";
