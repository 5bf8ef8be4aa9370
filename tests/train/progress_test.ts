import { assert, assertEquals } from "../_assert.ts";
import { downloadProgress, formatDuration, Progress } from "../../src/train/progress.ts";
import { trainingCurveSvg } from "../../src/train/svg.ts";
import { modelCard } from "../../src/train/model_card.ts";
import { DEFAULT_TRAINING_ARGS } from "../../src/train/args.ts";

Deno.test("progress: durations, a redrawn bar on a TTY and plain lines otherwise", () => {
  assertEquals([formatDuration(5), formatDuration(65), formatDuration(3725)], ["0:05", "1:05", "1:02:05"]);
  const tty: string[] = [], plain: string[] = [];
  const info = { epoch: 0.5, loss: 0.25, lr: 2e-5, tokens: 1000 };
  const a = new Progress(10, 0, { tty: true, write: (s) => tty.push(s) });
  const b = new Progress(10, 0, { tty: false, write: (s) => plain.push(s) });
  for (let s = 1; s <= 10; s++) {
    a.tick(s, info);
    b.tick(s, info);
  }
  a.done();
  assert(tty[0].startsWith("\r\x1b[2Ktrain [") && tty.some((l) => l.includes("10/10")), JSON.stringify(tty));
  assert(tty.at(-2)!.includes("loss 0.2500 lr 2.00e-5") && tty.at(-2)!.includes("tok/s ETA"), tty.at(-2)!);
  assertEquals(plain.length, 2); // first step and last step; the rest are throttled to one line per 5 s
  assert(plain.every((l) => l.startsWith("train: ") && l.endsWith("\n") && !l.includes("\r")));
});

const history: Record<string, number>[] = [
  { loss: 1.5, learning_rate: 1e-3, epoch: 0.5, step: 10 },
  { loss: 0.7, learning_rate: 5e-4, epoch: 1, step: 20 },
  {
    eval_loss: 0.6,
    eval_precision: 0.5,
    eval_recall: 0.6,
    eval_f1: 0.545,
    eval_accuracy: 0.9,
    epoch: 1,
    step: 20,
  },
];

Deno.test("svg: the training curve is a standalone SVG with both series", () => {
  const svg = trainingCurveSvg(history);
  assert(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"') && svg.trim().endsWith("</svg>"));
  assertEquals((svg.match(/<path /g) ?? []).length, 2);
  assert(svg.includes("eval_f1") && svg.includes("training loss"));
});

Deno.test("model card: metadata, hyperparameters and the per-epoch results table", () => {
  const card = modelCard({
    modelName: "bert-finetuned-ner",
    baseModel: "bert-base-cased",
    datasetName: "conll2003",
    args: DEFAULT_TRAINING_ARGS,
    logHistory: history,
    finalEval: history[2],
  });
  assert(card.startsWith("---\nlibrary_name: transformers\nbase_model: bert-base-cased"));
  assert(card.includes("- learning_rate: 0.00002") && card.includes("- num_epochs: 3"), card);
  assert(
    card.includes("| Training Loss | Epoch | Step | Validation Loss | Precision | Recall | F1 | Accuracy |"),
  );
  assert(card.includes("| 0.7000 | 1 | 20 | 0.6000 | 0.5000 | 0.6000 | 0.5450 | 0.9000 |"), card);
});

Deno.test("progress: download lines show file, bytes and total, and always the completed file", () => {
  const lines: string[] = [];
  const cb = downloadProgress({ tty: false, write: (s) => lines.push(s) });
  cb({ file: "model.safetensors", bytes: 1e6, total: 4.4e8 });
  cb({ file: "model.safetensors", bytes: 2e6, total: 4.4e8 }); // throttled
  cb({ file: "model.safetensors", bytes: 4.4e8, total: 4.4e8 });
  assertEquals(lines, [
    "download model.safetensors 1.0/440.0 MB\n",
    "download model.safetensors 440.0/440.0 MB\n",
  ]);
});

Deno.test("model card: from scratch has no base_model; a local checkpoint is named, not linked", () => {
  const base = {
    modelName: "m",
    datasetName: "conll2003",
    args: DEFAULT_TRAINING_ARGS,
    logHistory: history,
    finalEval: history[2],
  };
  const scratch = modelCard({ ...base, baseModel: null });
  assert(
    !scratch.includes("base_model:") &&
      scratch.includes("This model was trained from scratch on the conll2003"),
  );
  const local = modelCard({ ...base, baseModel: "/tmp/my-bert" });
  assert(!local.includes("base_model:") && local.includes("the checkpoint at `/tmp/my-bert`"), local);
  const hub = modelCard({ ...base, baseModel: "bert-base-cased" });
  assert(hub.includes("[bert-base-cased](https://huggingface.co/bert-base-cased)"));
});
