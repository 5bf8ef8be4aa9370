/**
 * `pipeline("token-classification", { model, tokenizer, aggregationStrategy, … })`: the course's entry
 * point. `model` is a model folder or Hub id (loaded with `fromPretrained`), a loaded
 * token classifier (any family), or any {@link TokenScorer}. The tokenizer defaults to the model folder's
 * `tokenizer.json` (or `vocab.txt`) when it has one, else the shipped bert-base-cased files.
 * @module
 */
import { BERT_BASE_CASED_DIR, loadTokenizer, type WordTokenizer } from "../data/tokenizer.ts";
import type { Location } from "../data/io.ts";
import { initGpu } from "../engine/gpu.ts";
import { resolveModelFiles } from "../io/hub.ts";
import { isTokenClassifier, type TokenClassifier } from "../model/classifier.ts";
import {
  describeLoadReport,
  fromPretrained,
  type FromPretrainedOptions,
  type LoadReport,
} from "../model/pretrained.ts";
import { modelScorer } from "./scorer.ts";
import { TokenClassificationPipeline, type TokenClassificationSettings } from "./token_classification.ts";
import { type AggregationStrategy, isTokenScorer, type TokenScorer } from "./types.ts";

/** Options of {@link pipeline}. */
export interface PipelineOptions<S extends AggregationStrategy = AggregationStrategy>
  extends TokenClassificationSettings<S> {
  /** A model folder or Hub id, a loaded model, or a scorer. */
  model: string | TokenClassifier | TokenScorer;
  /** A tokenizer folder (or tokenizer.json path/URL), or a loaded tokenizer. */
  tokenizer?: Location | WordTokenizer;
  /** Passed to `fromPretrained` when `model` is a folder or Hub id (revision, env, progress). */
  loadOptions?: Omit<FromPretrainedOptions, "labels">;
  /** Called with the load report when `model` is a folder or Hub id. */
  onLoad?: (report: LoadReport) => void;
}

/**
 * The tokenizer a model folder or Hub id ships (`tokenizer.json`, or a slow tokenizer's `vocab.txt`), or
 * undefined when it has none.
 */
async function _modelTokenizer(
  model: string,
  opts: PipelineOptions["loadOptions"],
): Promise<string | undefined> {
  try {
    const found = await resolveModelFiles(model, [], {
      optional: ["tokenizer.json", "tokenizer_config.json", "vocab.txt"],
      revision: opts?.revision,
      env: opts?.env,
    });
    return found.files["tokenizer.json"] || found.files["vocab.txt"] ? found.dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Builds a token-classification pipeline (HF's `pipeline("token-classification", model=…)`). When `model`
 * is a folder or Hub id, the GPU is initialised, the model loaded, and {@link TokenClassificationPipeline.dispose}
 * frees it. With the default (shipped) tokenizer, the model's vocabulary must have the same size.
 */
export async function pipeline<S extends AggregationStrategy = "none">(
  task: "token-classification" | "ner",
  options: PipelineOptions<S>,
): Promise<TokenClassificationPipeline<S>> {
  if (task !== "token-classification" && task !== "ner") {
    throw new RangeError(`unsupported task "${task}" (only "token-classification", alias "ner")`);
  }
  const { model, tokenizer, loadOptions, onLoad, ...settings } = options;
  let scorer: TokenScorer;
  let onDispose: (() => void) | undefined;
  let tokenizerSource: Location | WordTokenizer | undefined = tokenizer;
  if (typeof model === "string") {
    await initGpu();
    const loaded = await fromPretrained(model, loadOptions);
    try {
      // Without a handler, HF's load warnings (unused weights; a newly initialized head) go to stderr.
      (onLoad ?? ((r) => describeLoadReport(r, model).forEach((l) => console.warn(l))))(loaded.report);
    } catch (e) {
      loaded.model.dispose();
      throw e;
    }
    scorer = modelScorer(loaded.model);
    onDispose = () => loaded.model.dispose();
    tokenizerSource ??= await _modelTokenizer(model, loadOptions);
  } else if (isTokenClassifier(model)) {
    scorer = modelScorer(model);
  } else if (isTokenScorer(model)) {
    scorer = model;
  } else {
    throw new TypeError("model must be a folder or Hub id, a TokenClassifier or a TokenScorer");
  }
  const defaulted = tokenizerSource === undefined;
  const tok: WordTokenizer = tokenizerSource === undefined
    ? await loadTokenizer(BERT_BASE_CASED_DIR)
    : typeof tokenizerSource === "string" || tokenizerSource instanceof URL
    ? await loadTokenizer(tokenizerSource)
    : tokenizerSource;
  if (defaulted && scorer.vocabSize !== undefined && scorer.vocabSize !== tok.vocabSize) {
    onDispose?.();
    throw new RangeError(
      `the model has a vocabulary of ${scorer.vocabSize} tokens and no tokenizer.json; the default ` +
        `bert-base-cased tokenizer has ${tok.vocabSize}: pass the model's tokenizer (tokenizer option, --tokenizer)`,
    );
  }
  try {
    return new TokenClassificationPipeline(scorer, tok, settings, onDispose);
  } catch (e) {
    onDispose?.();
    throw e;
  }
}
