// Run by tests/dist/mpi_test.ts on 2 ranks (deno task launch --script): checks every collective of the
// MPI group and the host helpers, then prints one JSON line per rank. With --hang, rank 1
// sleeps instead of joining the first all-reduce (the other one must time out and abort the job). With
// --lost-stderr, rank 0 leaves an abort note in the launch folder and exits without printing it.
import { initProcessGroup } from "../../src/dist/group.ts";
import { gatherHost, padAcrossProcesses } from "../../src/dist/collectives.ts";
import { MpiError } from "../../src/dist/mpi.ts";

const g = await initProcessGroup();
const fail = (what: string) => {
  throw new Error(`rank ${g.rank}: ${what}`);
};
if (Deno.args.includes("--lost-stderr")) {
  // An abort whose stderr line mpiexec dropped: only the launch folder's note says what happened.
  if (g.rank === 0) {
    const note = "rank 0: MPI_Bcast (1 × Float32Array from rank 1) did not complete within 5 s: test";
    Deno.writeTextFileSync(`${Deno.env.get("WEBGPU_NER_LAUNCH_DIR")}/abort-0.txt`, note);
    Deno.exit(70);
  }
  await new Promise((r) => setTimeout(r, 600_000));
}
if (Deno.args.includes("--hang")) {
  if (g.rank === 1) await new Promise((r) => setTimeout(r, 600_000));
  await g.allReduce(new Float32Array(8));
}
if (g.size !== 2) fail(`size ${g.size}`);
const f = Float32Array.from({ length: 1000 }, (_, i) => i * (g.rank + 1));
await g.allReduce(f, "sum");
if (!f.every((v, i) => v === i * 3)) fail("allReduce sum");
const m = Int32Array.of(g.rank * 5, 7 - g.rank);
await g.allReduce(m, "max");
if (m[0] !== 5 || m[1] !== 7) fail(`allReduce max ${m}`);
const d = Float64Array.of(g.rank === 0 ? Math.PI : 0, g.rank === 0 ? 1e300 : 0);
await g.broadcast(d, 0);
if (d[0] !== Math.PI || d[1] !== 1e300) fail("broadcast");
const all = await g.allGather(Int32Array.of(g.rank + 10));
if (all.join() !== "10,11") fail(`allGather ${all}`);
// Ragged: rank 0 sends 3 values, rank 1 none.
const v = await g.allGatherV(g.rank === 0 ? Uint8Array.of(1, 2, 3) : new Uint8Array(0));
if (v.data.join() !== "1,2,3" || v.counts.join() !== "3,0") fail(`allGatherV ${v.data} ${v.counts}`);
// The course's eval case: (B, T) label arrays with different T per rank, padded to the longest, gathered.
const T = g.rank === 0 ? 3 : 5, B = g.rank === 0 ? 2 : 1;
const labels = { data: Int32Array.from({ length: B * T }, (_, i) => g.rank * 100 + i), shape: [B, T] };
const padded = await padAcrossProcesses(g, labels, { dim: 1, padIndex: -100 });
if (padded.shape.join() !== `${B},5`) fail(`pad shape ${padded.shape}`);
const gathered = await gatherHost(g, padded);
const want = "0,1,2,-100,-100,3,4,5,-100,-100,100,101,102,103,104";
if (gathered.shape.join() !== "3,5" || gathered.data.join() !== want) fail(`gather ${gathered.data}`);
let mismatch = "";
try {
  await gatherHost(g, labels); // trailing sizes differ: a clear error on both ranks, no hang
} catch (e) {
  mismatch = (e as Error).message;
}
if (!/call padAcrossProcesses first/.test(mismatch)) fail(`gather mismatch: ${mismatch}`);
let badRoot = "";
try {
  await g.broadcast(new Float32Array(1), 5);
} catch (e) {
  badRoot = (e as Error).message;
}
if (!/root 5/.test(badRoot)) fail(`bad root: ${badRoot}`);
await g.barrier();
console.log(
  JSON.stringify({ rank: g.rank, size: g.size, backend: g.backend, ok: true, mpiError: MpiError.name }),
);
g.finalize();
