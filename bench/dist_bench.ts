/**
 * Data parallel over MPI on this machine: all-reduce throughput for bert-base-sized gradients (110M f32,
 * 25 MiB buckets) between 2 local ranks — MPI alone on host arrays, and the full path (GPU readback →
 * MPI_Allreduce → upload) — and the step time of `deno task train` on 2 ranks against 1 process.
 *
 *   deno bench -A bench/dist_bench.ts           # one process: the host side of a bucketed gradient sync
 *   deno run -A bench/dist_bench.ts --report    # the table (starts 2 ranks with deno task launch)
 * @module
 */
import { initGpu } from "../src/engine/gpu.ts";
import { Tensor } from "../src/engine/tensor.ts";
import { initProcessGroup } from "../src/dist/group.ts";
import { allReduceTensors, bucketize, DEFAULT_BUCKET_BYTES } from "../src/dist/collectives.ts";
import { parameterShapes } from "../src/model/bert.ts";
import { makeBertConfig } from "../src/model/config.ts";

const LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"];
const BERT_BASE = parameterShapes(makeBertConfig({ vocab_size: 28996, labels: LABELS }));
const ROOT = new URL("../", import.meta.url).pathname;

/** GPU tensors shaped like bert-base's gradients. */
function gradients(): Tensor[] {
  return BERT_BASE.map(([name, shape]) => Tensor.empty(shape, "f32", `${name}.grad`).keep());
}

async function worker(): Promise<void> {
  const group = await initProcessGroup();
  await initGpu();
  const grads = gradients();
  const bytes = grads.reduce((s, t) => s + t.byteLength, 0);
  // MPI alone: the same buckets as host arrays.
  const host = bucketize(grads).map((b) => new Float32Array(b.reduce((s, t) => s + t.size, 0)));
  await group.barrier();
  let t = performance.now();
  const reps = 3;
  for (let r = 0; r < reps; r++) for (const h of host) await group.allReduce(h, "sum");
  const mpiSeconds = (performance.now() - t) / 1000 / reps;
  await group.barrier();
  t = performance.now();
  await allReduceTensors(group, grads);
  const fullSeconds = (performance.now() - t) / 1000;
  if (group.rank === 0) {
    console.log(JSON.stringify({
      params: bytes / 4,
      buckets: host.length,
      mpi_seconds: mpiSeconds,
      mpi_gbps: bytes / mpiSeconds / 1e9,
      full_seconds: fullSeconds,
      full_gbps: bytes / fullSeconds / 1e9,
    }));
  }
  await group.barrier();
  group.finalize();
}

async function run(cmd: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: cmd,
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  })
    .output();
  if (!out.success) throw new Error(`failed: deno ${cmd.join(" ")}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.startsWith("{")).pop()!;
}

async function report(): Promise<void> {
  const ar = JSON.parse(
    await run([
      "task",
      "launch",
      "--num-processes",
      "2",
      "--script",
      "bench/dist_bench.ts",
      "--",
      "--worker",
    ]),
  );
  console.log(
    `all-reduce, bert-base gradients (${
      (ar.params / 1e6).toFixed(1)
    }M f32, ${ar.buckets} buckets of 25 MiB), 2 local ranks:\n` +
      `  MPI_Allreduce on host arrays  ${ar.mpi_seconds.toFixed(3)} s  ${ar.mpi_gbps.toFixed(2)} GB/s\n` +
      `  GPU → host → MPI → GPU        ${ar.full_seconds.toFixed(3)} s  ${ar.full_gbps.toFixed(2)} GB/s`,
  );
  const dir = await Deno.makeTempDir();
  const train = [
    "--from-scratch",
    "--hidden-size",
    "128",
    "--num-hidden-layers",
    "2",
    "--num-attention-heads",
    "2",
    "--intermediate-size",
    "512",
    "--max-train-samples",
    "2000",
    "--max-steps",
    "30",
    "--eval-strategy",
    "no",
    "--save-strategy",
    "no",
    "--per-device-train-batch-size",
    "8",
  ];
  const one = JSON.parse(await run(["task", "train", ...train, "--output-dir", `${dir}/one`]));
  const two = JSON.parse(
    await run(["task", "launch", "--num-processes", "2", "--", ...train, "--output-dir", `${dir}/two`]),
  );
  const s1 = one.train_seconds / 30, s2 = two.train_seconds / 30;
  console.log(
    `train step (2 layers × 128, batch 8 per process, 30 steps, CoNLL lengths):\n` +
      `  1 process   ${(s1 * 1000).toFixed(0)} ms/step  (8 sequences/step)\n` +
      `  2 ranks     ${(s2 * 1000).toFixed(0)} ms/step  (16 sequences/step)  step-time overhead ×${
        (s2 / s1).toFixed(2)
      }, throughput ×${(2 * s1 / s2).toFixed(2)}`,
  );
  await Deno.remove(dir, { recursive: true });
}

if (Deno.args.includes("--worker")) await worker();
else if (Deno.args.includes("--report")) await report();
else {
  await initGpu();
  const grads = gradients();
  const local = await initProcessGroup();
  Deno.bench("bert-base gradient sync, 1 process (identity: no readback)", async () => {
    await allReduceTensors(local, grads);
  });
  Deno.bench(`bucketize bert-base gradients into ${DEFAULT_BUCKET_BYTES >> 20} MiB buckets`, () => {
    bucketize(grads);
  });
}
