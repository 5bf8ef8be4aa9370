/**
 * What `deno task predict` does with HF's load report: prints HF's warnings ("… newly initialized … You
 * should probably TRAIN this model …") and refuses a checkpoint whose classifier head was not in it (its
 * predictions would be random labels) unless `--allow-untrained-head`.
 * @module
 */
import { describeLoadReport, type LoadReport } from "../model/pretrained.ts";

/** A checkpoint without a trained token-classification head. */
export class UntrainedHeadError extends Error {
  /** Creates the error for `model` with the head weights it lacks. */
  constructor(model: string, missing: readonly string[]) {
    super(
      `${model} has no trained classifier head (${missing.join(", ")} newly initialized): its predictions ` +
        `would be random labels; fine-tune it first (deno task train --model ${model}) or pass ` +
        `--allow-untrained-head`,
    );
    this.name = "UntrainedHeadError";
  }
}

/**
 * Writes HF's load warnings to `warn` and throws {@link UntrainedHeadError} when the classifier was newly
 * initialised and `allowUntrained` is false.
 */
export function checkLoadedHead(
  report: LoadReport,
  model: string,
  allowUntrained: boolean,
  warn: (line: string) => void = console.error,
): void {
  for (const line of describeLoadReport(report, model)) warn(line);
  const head = report.newlyInitialized.filter((n) => n.startsWith("classifier."));
  if (head.length && !allowUntrained) throw new UntrainedHeadError(model, head);
}
