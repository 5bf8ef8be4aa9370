// One rank of tests/dist/data_parallel_test.ts (started by deno task launch --num-processes 2): runs the
// shared evaluation and training on the MPI group and prints the results (rank 0) as one JSON line.
import { initGpu } from "../../src/engine/gpu.ts";
import { initProcessGroup } from "../../src/dist/group.ts";
import { Accelerator } from "../../src/train/accelerator.ts";
import { courseEval, dpArgs, trainerEval, trainRun } from "./_dp_common.ts";

const group = await initProcessGroup();
await initGpu();
const out = Deno.args[0];
const trainer = await trainerEval(group);
const course = await courseEval(new Accelerator({ group }));
const run = await trainRun(dpArgs(out), group);
if (group.rank === 0) {
  const flat = new Float32Array(run.weights.reduce((s, w) => s + w.length, 0));
  run.weights.reduce((o, w) => (flat.set(w, o), o + w.length), 0);
  await Deno.writeFile(`${out}/weights.bin`, new Uint8Array(flat.buffer));
  console.log(JSON.stringify({ size: group.size, trainer, course, losses: run.losses }));
}
await group.barrier();
group.finalize();
