/**
 * webgpu-ner: fine-tune BERT for token classification (NER) on a WebGPU compute engine written in WGSL.
 *
 * - Engine: `initGpu`, `Tensor`, `tidy`, `backward`, `noGrad` and the ops (matmul/linear, layerNorm, gelu,
 *   attention, dropout, embedding, crossEntropy, AdamW, clipGradNorm); mixed precision (`withAutocast`,
 *   `GradScaler`: HF's `--fp16`).
 * - Data: `loadConll2003`, `loadDataset`, `loadTokenizer`, `tokenizeAndAlign`, `collate`, `BatchLoader`.
 * - Metrics: `seqeval`, `SeqevalMetric`, `classificationReport`, `NerEvaluator`.
 * - Checkpoints: safetensors reader/writer, Hugging Face Hub cache, atomic writes.
 * - Hub uploads: `HubClient` (whoami, createRepo), `uploadFolder`/`createCommit`, `pushToHub` (custom loop),
 *   the Trainer's `pushToHub`/`hubStrategy`, tokens as `huggingface_hub` finds them.
 *
 * This module only documents and re-exports; see README.md.
 * @module
 */
export * from "./src/engine/mod.ts";
export * from "./src/data/mod.ts";
export * from "./src/metrics/mod.ts";
export * from "./src/io/mod.ts";
export * from "./src/model/mod.ts";
export * from "./src/train/mod.ts";
export * from "./src/dist/mod.ts";
export * from "./src/pipeline/mod.ts";
export * from "./src/serve/mod.ts";
