import { assertEquals, assertThrows } from "../_assert.ts";
import { ArgsError, DEFAULT_TRAINING_ARGS, helpText, parseTrainArgs } from "../../src/train/args.ts";

Deno.test("args: defaults are the course's recipe", () => {
  const { args, cli } = parseTrainArgs([]);
  assertEquals(args, DEFAULT_TRAINING_ARGS);
  assertEquals(
    [args.learningRate, args.numTrainEpochs, args.weightDecay, args.perDeviceTrainBatchSize],
    [2e-5, 3, 0.01, 8],
  );
  assertEquals([args.evalStrategy, args.saveStrategy, args.outputDir], [
    "epoch",
    "epoch",
    "bert-finetuned-ner",
  ]);
  assertEquals([cli.model, cli.dataset, cli.labelColumn], ["bert-base-cased", "conll2003", "ner_tags"]);
});

Deno.test("args: kebab-case flags, both value forms, booleans and nulls", () => {
  const { args, cli } = parseTrainArgs([
    "--learning-rate=1e-3",
    "--max-steps",
    "5",
    "--from-scratch",
    "--hidden-size",
    "64",
    "--save-total-limit",
    "2",
    "--label-all-tokens",
    "false",
    "--lr-scheduler-type",
    "cosine",
  ]);
  assertEquals([args.learningRate, args.maxSteps, args.saveTotalLimit, args.lrSchedulerType], [
    1e-3,
    5,
    2,
    "cosine",
  ]);
  assertEquals([cli.fromScratch, cli.hiddenSize, cli.labelAllTokens], [true, 64, false]);
});

Deno.test("args: unknown flags and bad values are rejected with the reason", () => {
  assertThrows(() => parseTrainArgs(["--learning-rat", "1"]), ArgsError, "unknown argument '--learning-rat'");
  assertThrows(() => parseTrainArgs(["--max-steps", "2.5"]), ArgsError, "--max-steps takes an integer");
  assertThrows(() => parseTrainArgs(["--learning-rate", "abc"]), ArgsError, "takes a number");
  assertThrows(() => parseTrainArgs(["--eval-strategy", "sometimes"]), ArgsError, "one of no, steps, epoch");
  assertThrows(() => parseTrainArgs(["--per-device-train-batch-size", "0"]), ArgsError, "must be > 0");
  assertThrows(() => parseTrainArgs(["--output-dir"]), ArgsError, "needs a value");
  assertThrows(() => parseTrainArgs(["--label-column", "foo"]), ArgsError, "--label-column");
});

Deno.test("args: the help text lists every flag with its default", () => {
  const h = helpText();
  for (const f of ["--learning-rate", "--from-scratch", "--num-hidden-layers", "--resume-from-checkpoint"]) {
    if (!h.includes(f)) throw new Error(`help lacks ${f}`);
  }
});
