/**
 * webgpu-ner: fine-tune BERT for token classification (NER) on a WebGPU compute engine written in WGSL.
 *
 * This module only documents and re-exports; see README.md.
 * @module
 */
export * from "./src/engine/mod.ts";
