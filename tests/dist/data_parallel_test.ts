// Data parallel on 2 MPI ranks (deno task launch, the CPU adapter) against one process: the same
// training (losses, weights) and exactly the same evaluation numbers. Needs MPICH (.ci/run installs it).
import { assert, assertEquals } from "../_assert.ts";
import { setupGpu } from "../_util.ts";
import { Accelerator } from "../../src/train/accelerator.ts";
import { courseEval, dpArgs, trainerEval, trainRun } from "./_dp_common.ts";

await setupGpu();
const LAUNCH = new URL("../../src/dist/launch.ts", import.meta.url).pathname;
const WORKER = new URL("./_dp_worker.ts", import.meta.url).pathname;

/**
 * fp32 tolerance for the weights after 4 AdamW steps (lr 3e-3): only summation order differs (padding
 * length, the all-reduce, the loss weighting); measured max |Δ| 1.3e-7 on lavapipe.
 */
const WEIGHT_ATOL = 1e-6, WEIGHT_RTOL = 1e-5;
/** Logged losses are rounded to 4 digits by the Trainer (HF's log rounding): one unit of the last digit. */
const LOSS_ATOL = 1.5e-4;

function flatten(ws: Float32Array[]): Float32Array {
  const out = new Float32Array(ws.reduce((s, w) => s + w.length, 0));
  ws.reduce((o, w) => (out.set(w, o), o + w.length), 0);
  return out;
}

function maxViolation(a: Float32Array, b: Float32Array): { worst: number; at: number } {
  let worst = 0, at = -1;
  for (let i = 0; i < a.length; i++) {
    const excess = Math.abs(a[i] - b[i]) - (WEIGHT_ATOL + WEIGHT_RTOL * Math.abs(b[i]));
    if (excess > worst) [worst, at] = [excess, i];
  }
  return { worst, at };
}

Deno.test("data parallel: 2 ranks × batch 2 = 1 process × batch 4 = batch 2 × 2 accumulation steps; ragged eval gathers to the single-process seqeval", async () => {
  const dir = await Deno.makeTempDir();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      LAUNCH,
      "--num-processes",
      "2",
      "--collective-timeout",
      "120",
      "--script",
      WORKER,
      "--",
      dir,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assertEquals(out.code, 0, stderr);
  const line = new TextDecoder().decode(out.stdout).split("\n").find((l) => l.startsWith("{"));
  assert(line, `no result line; stderr: ${stderr}`);
  const dp = JSON.parse(line);
  assertEquals(dp.size, 2);
  const dpWeights = new Float32Array((await Deno.readFile(`${dir}/weights.bin`)).buffer);

  const big = await trainRun(dpArgs(dir, { perDeviceTrainBatchSize: 4 }));
  const accum = await trainRun(dpArgs(dir, { gradientAccumulationSteps: 2 }));
  assertEquals(big.losses.length, 4);
  assertEquals(dp.losses.length, 4);
  for (const other of [dp.losses as number[], accum.losses]) {
    other.forEach((l, i) =>
      assert(Math.abs(l - big.losses[i]) <= LOSS_ATOL, `losses ${other} vs ${big.losses}`)
    );
  }
  const ref = flatten(big.weights);
  assertEquals(dpWeights.length, ref.length);
  for (const [what, w] of [["2 ranks", dpWeights], ["accumulation", flatten(accum.weights)]] as const) {
    const v = maxViolation(w, ref);
    assert(v.worst === 0, `${what}: weight ${v.at} is ${w[v.at]}, 1 × batch 4 has ${ref[v.at]}`);
  }
  // The weights did move (the comparison is not trivially true).
  const init = flatten((await trainRun(dpArgs(dir, { maxSteps: 0, numTrainEpochs: 0.01 }))).weights);
  assert(maxViolation(init, ref).worst > 0, "training changed nothing");

  // Trainer.evaluate: every seqeval number identical; the loss sum only changes order.
  const single = await trainerEval();
  for (const [k, v] of Object.entries(single)) {
    if (k === "eval_loss") {
      assert(Math.abs(dp.trainer[k] - v) <= 1e-12 * Math.abs(v), `${k} ${dp.trainer[k]} vs ${v}`);
    } else assertEquals(dp.trainer[k], v, k);
  }
  // The course's loop: pad_across_processes + gather_for_metrics, identical to one process.
  assertEquals(dp.course, await courseEval(new Accelerator()));
  await Deno.remove(dir, { recursive: true });
});
