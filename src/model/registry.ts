/**
 * The model registry: one {@link ModelFamily} entry per model file, keyed by HF `model_type`. Everything
 * that builds, loads or saves a model goes through here: {@link parseModelConfig} (config.json → the
 * family's config), {@link makeModelConfig} (from scratch), {@link createModel}/{@link randomModel}, and
 * {@link familyOf} for a loaded model. Adding a family: write `src/model/<family>.ts` exporting a
 * `ModelFamily` and add it to {@link FAMILIES}.
 * @module
 */
import {
  ConfigError,
  type ModelFamily,
  type TokenClassifier,
  type TokenClassifierConfig,
} from "./classifier.ts";
import { uploadWeights } from "./classifier.ts";
import { BERT_FAMILY } from "./bert.ts";
import { checkParameterSizes } from "./weight_checks.ts";
import { DISTILBERT_FAMILY } from "./distilbert.ts";
import { ELECTRA_FAMILY } from "./electra.ts";
import { ROBERTA_FAMILY } from "./roberta.ts";
import { DEBERTA_V2_FAMILY } from "./deberta_v2.ts";

/** Every registered family (one entry per model file). */
// deno-lint-ignore no-explicit-any
export const FAMILIES: readonly ModelFamily<any>[] = [
  BERT_FAMILY,
  ROBERTA_FAMILY,
  DISTILBERT_FAMILY,
  ELECTRA_FAMILY,
  DEBERTA_V2_FAMILY,
];

/** HF `architectures` class names → model_type, for configs that lack `model_type`. */
function _typeFromArchitectures(raw: Record<string, unknown>): string | undefined {
  const archs = Array.isArray(raw.architectures) ? raw.architectures : [];
  for (const f of FAMILIES) {
    for (const t of f.modelTypes) if (archs.includes(f.architecture(t))) return t;
  }
  return undefined;
}

/** Every supported `model_type`. */
export function modelTypes(): string[] {
  return FAMILIES.flatMap((f) => [...f.modelTypes]);
}

/** The family serving `modelType`; a clear error listing the supported ones otherwise. */
export function familyFor(modelType: string, source = "config"): ModelFamily {
  const f = FAMILIES.find((f) => f.modelTypes.includes(modelType));
  if (!f) {
    throw new ConfigError(
      source,
      `model_type '${modelType}' is not supported (supported: ${modelTypes().join(", ")})`,
    );
  }
  return f;
}

/** The family of a loaded model (by its config's `model_type`). */
export function familyOf(model: TokenClassifier): ModelFamily {
  return familyFor(model.config.model_type);
}

/**
 * Parses config.json contents with the family its `model_type` names (or, without one, its
 * `architectures`; BERT when neither says).
 */
export function parseModelConfig(json: unknown, source = "config.json"): TokenClassifierConfig {
  if (!json || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigError(source, "expected a JSON object");
  }
  const raw = json as Record<string, unknown>;
  if (raw.model_type !== undefined && typeof raw.model_type !== "string") {
    throw new ConfigError(
      source,
      `field 'model_type' must be a string, got ${JSON.stringify(raw.model_type)}`,
    );
  }
  const type = (raw.model_type as string | undefined) ?? _typeFromArchitectures(raw) ?? "bert";
  return familyFor(type, source).parseConfig({ ...raw, model_type: type }, source);
}

/**
 * A new config of `modelType` for from-scratch training: the family's defaults, `fields` with generic
 * (BERT) names or the family's own, and the label names.
 */
export function makeModelConfig(
  modelType: string,
  fields: Record<string, unknown>,
  labels: readonly string[],
): TokenClassifierConfig {
  return familyFor(modelType).makeConfig(modelType, fields, labels);
}

/** The config.json object HF writes for `config` (its family's fields, model_type, architectures). */
export function modelConfigJson(config: TokenClassifierConfig): Record<string, unknown> {
  return familyFor(config.model_type).configToJson(config);
}

/** The longest input `config`'s model takes (tokens, specials included): the truncation length. */
export function maxInputLength(config: TokenClassifierConfig): number {
  return familyFor(config.model_type).maxInputLength?.(config) ?? config.max_position_embeddings;
}

/** Parameter name → shape for `config`, in HF's module order. */
export function modelParameterShapes(config: TokenClassifierConfig): [string, number[]][] {
  return familyFor(config.model_type).parameterShapes(config);
}

/** Builds a model of `config`'s family from host weights (every parameter present). */
export function createModel(
  config: TokenClassifierConfig,
  weights: Map<string, Float32Array>,
  seed = 42,
): TokenClassifier {
  const family = familyFor(config.model_type);
  return family.create(config, uploadWeights(family.parameterShapes(config), weights), seed);
}

/** A randomly initialised model of `config`'s family (HF's `_init_weights`, seeded). */
export function randomModel(config: TokenClassifierConfig, seed = 42): TokenClassifier {
  const family = familyFor(config.model_type);
  // Sizes against the device limits before any host or GPU allocation (names the config field).
  checkParameterSizes(family.parameterShapes(config), "config", config as unknown as Record<string, unknown>);
  const weights = new Map<string, Float32Array>();
  for (const [name, shape] of family.parameterShapes(config)) {
    weights.set(name, family.initialWeights(config, seed, name, shape));
  }
  return createModel(config, weights, seed);
}
