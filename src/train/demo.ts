/**
 * `deno task demo`: the whole chain offline on whatever WebGPU adapter there is (the CPU fallback
 * included) in a few minutes — a small BERT from scratch (bert-base-cased vocabulary) trained on the
 * shipped CoNLL-2003, evaluated each epoch, saved in HF layout, then run as a token-classification
 * pipeline on the course's sentence. Ends with one JSON line:
 * `{"eval_f1", "eval_f1_subword", "eval_accuracy", "train_seconds", "output_dir"}`.
 * Extra arguments are passed to `deno task train` (e.g. `--num-train-epochs 1`).
 * @module
 */
import { main as trainMain } from "./cli.ts";

/** The demo's recipe: 2 layers × 128 hidden, lr 1e-3 with 10% warmup, 4 epochs, batch 32. */
export const DEMO_ARGS: string[] = [
  "--from-scratch",
  "--hidden-size",
  "128",
  "--num-hidden-layers",
  "2",
  "--num-attention-heads",
  "2",
  "--intermediate-size",
  "512",
  "--max-position-embeddings",
  "512",
  "--learning-rate",
  "1e-3",
  "--warmup-ratio",
  "0.1",
  "--num-train-epochs",
  "4",
  "--per-device-train-batch-size",
  "32",
  "--per-device-eval-batch-size",
  "64",
  "--group-by-length",
  "--logging-steps",
  "50",
  "--save-total-limit",
  "1",
  "--output-dir",
  "bert-demo-ner",
];

/** The demo's last step: the pipeline on the course's sentence, from the saved folder (throws on failure). */
export async function demoPipeline(outputDir: string): Promise<void> {
  const { pipeline } = await import("../pipeline/mod.ts");
  const ner = await pipeline("token-classification", { model: outputDir, aggregationStrategy: "simple" });
  try {
    const text = "My name is Sylvain and I work at Hugging Face in Brooklyn.";
    console.error(`demo: pipeline("${text}") →`);
    console.error(JSON.stringify(await ner.run(text)));
  } finally {
    ner.dispose();
  }
}

/** Runs the demo; returns the exit code (non-zero when training or the pipeline step fails). */
export async function demo(extra: string[] = [], runPipeline = demoPipeline): Promise<number> {
  let summary: Record<string, unknown> | null = null;
  const origLog = console.log;
  console.log = (...a: unknown[]) => {
    const s = a.map(String).join(" ");
    if (s.startsWith("{")) summary = JSON.parse(s);
    else origLog(...a);
  };
  let code: number;
  try {
    code = await trainMain([...DEMO_ARGS, ...extra]);
  } finally {
    console.log = origLog;
  }
  if (code !== 0 || !summary) return code || 1;
  const s = summary as Record<string, unknown>;
  const outputDir = String(s.output_dir);
  try {
    await runPipeline(outputDir);
  } catch (e) {
    console.error(`demo: the pipeline step failed: ${(e as Error).message}`);
    return 1; // a demo whose last step failed did not succeed
  }
  console.log(JSON.stringify({
    eval_f1: s.eval_f1,
    eval_f1_subword: s.eval_f1_subword,
    eval_accuracy: s.eval_accuracy,
    train_seconds: s.train_seconds,
    output_dir: outputDir,
  }));
  return 0;
}

if (import.meta.main) Deno.exit(await demo(Deno.args));
