// One rank of the "rank killed mid-step" test: trains the tiny model on 2 ranks; rank 1 SIGKILLs itself
// in its third gradient all-reduce (after the backward pass, while rank 0 waits in MPI_Allreduce).
import { initGpu } from "../../src/engine/gpu.ts";
import { type CommArray, initProcessGroup, type ReduceOp } from "../../src/dist/group.ts";
import { dpArgs, trainRun } from "./_dp_common.ts";

const group = await initProcessGroup();
await initGpu();
let gradientReductions = 0;
const allReduce = group.allReduce.bind(group);
group.allReduce = (data: CommArray, op?: ReduceOp) => {
  if (data instanceof Float32Array && group.rank === 1 && ++gradientReductions === 3) {
    Deno.kill(Deno.pid, "SIGKILL");
  }
  return allReduce(data, op);
};
await trainRun(dpArgs(Deno.args[0], { numTrainEpochs: 3 }), group);
console.log("finished (the test expects this rank to die first)");
group.finalize();
