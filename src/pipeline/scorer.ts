/**
 * The default {@link TokenScorer}: a token classifier's forward (any family) on the GPU, in eval mode and
 * without recording gradients; every temporary tensor is freed once the logits are read back.
 * @module
 */
import { noGrad } from "../engine/tape.ts";
import { tidy } from "../engine/tensor.ts";
import type { TokenClassifier } from "../model/classifier.ts";
import { configLabels } from "../model/config.ts";
import { maxInputLength } from "../model/registry.ts";
import type { ScoreBatch, TokenScorer } from "./types.ts";

/**
 * Wraps a model as a scorer: labels from `config.id2label`, `maxLength` = the model's longest input
 * (`max_position_embeddings`, less RoBERTa's position offset). Dropout
 * is off during the forward (the model's `training` flag is restored afterwards). The GPU must be
 * initialised (`await initGpu()`).
 */
export function modelScorer(model: TokenClassifier): TokenScorer {
  return {
    labels: configLabels(model.config),
    maxLength: maxInputLength(model.config),
    vocabSize: model.config.vocab_size,
    score: (batch: ScoreBatch) =>
      noGrad(() =>
        tidy(async () => {
          const training = model.training;
          model.eval();
          let logits;
          try {
            logits = model.forward(batch).logits;
          } finally {
            model.training = training;
          }
          return await logits.readF32();
        })
      ),
  };
}
