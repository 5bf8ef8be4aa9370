// The MPI layer on 2 local ranks (deno task launch): every collective, the timeout that aborts a job
// whose rank hangs, a rank killed mid-step; plus the single-process pieces that need no MPI.
import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { LocalGroup } from "../../src/dist/group.ts";
import { gatherHost, padAcrossProcesses } from "../../src/dist/collectives.ts";
import { evenBatches, rankBatches } from "../../src/dist/sharding.ts";
import { explainFailure, mpiexecCommand, parseLaunchArgs, trainPermissions } from "../../src/dist/launch.ts";

const LAUNCH = new URL("../../src/dist/launch.ts", import.meta.url).pathname;
const here = (f: string) => new URL(f, import.meta.url).pathname;

async function launch(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const t = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", LAUNCH, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
    seconds: (performance.now() - t) / 1000,
  };
}

Deno.test("mpi: all-reduce, broadcast, all-gather(v), barrier, pad/gather of ragged arrays on 2 ranks", async () => {
  const r = await launch(["--num-processes", "2", "--script", here("./_collectives_worker.ts")]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assertEquals(lines.map((l) => l.rank).sort(), [0, 1]);
  assert(lines.every((l) => l.ok && l.size === 2 && /^mpi/.test(l.backend)), r.stdout);
});

Deno.test("mpi: a rank that hangs makes the other's collective time out; the job stops naming rank and call", async () => {
  const r = await launch([
    "--num-processes",
    "2",
    "--collective-timeout",
    "3",
    "--script",
    here("./_collectives_worker.ts"),
    "--",
    "--hang",
  ]);
  assert(r.code !== 0, "the job must fail");
  assert(r.seconds < 30, `took ${r.seconds} s`);
  // Once: forwarded by mpiexec, or else repeated by the launcher from the rank's abort note.
  assertEquals(
    r.stderr.match(/rank 0: MPI_Allreduce \(8 × Float32Array, sum\) did not complete within 3 s/g)?.length,
    1,
    r.stderr,
  );
  assert(/launch: the job failed .*rank 0 waited more than 3 s in MPI_Allreduce/.test(r.stderr), r.stderr);
});

Deno.test("mpi: an abort message that mpiexec did not forward is printed from the launch folder", async () => {
  const r = await launch([
    "--num-processes",
    "2",
    "--script",
    here("./_collectives_worker.ts"),
    "--",
    "--lost-stderr",
  ]);
  assert(r.code !== 0, "the job must fail");
  assert(r.seconds < 30, `took ${r.seconds} s`);
  assertEquals(
    r.stderr.split("rank 0: MPI_Bcast (1 × Float32Array from rank 1) did not complete").length,
    2,
    r.stderr,
  );
  assert(/launch: the job failed .*rank 0 waited more than 5 s in MPI_Bcast/.test(r.stderr), r.stderr);
});

Deno.test("mpi: a rank killed mid-step (in its gradient all-reduce) makes the launcher exit non-zero naming it", async () => {
  const dir = await Deno.makeTempDir();
  const r = await launch([
    "--num-processes",
    "2",
    "--collective-timeout",
    "60",
    "--script",
    here("./_kill_worker.ts"),
    "--",
    dir,
  ]);
  assert(r.code !== 0, "the job must fail");
  assert(r.seconds < 60, `took ${r.seconds} s`);
  assert(!/finished/.test(r.stdout), "no rank may finish training");
  assert(/launch: the job failed .*rank 1 \(pid \d+ on [^)]+\) was killed/.test(r.stderr), r.stderr);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("local group: every collective is the identity; pad/gather on host arrays", async () => {
  const g = new LocalGroup();
  const a = Float32Array.of(1, 2);
  await g.allReduce(a);
  assertEquals([...a], [1, 2]);
  assertEquals([...(await g.allGatherV(Int32Array.of(4))).data], [4]);
  await assertRejects(() => Promise.resolve().then(() => g.broadcast(a, 1)), RangeError, "root 1");
  const x = { data: Int32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] };
  assertEquals(await padAcrossProcesses(g, x, { dim: 1, padIndex: -100 }), x);
  assertEquals((await gatherHost(g, x)).shape, [2, 3]);
  await assertRejects(() => gatherHost(g, { data: Int32Array.of(1), shape: [2] }), RangeError, "needs 2");
});

Deno.test("sharding: Accelerate's even batches — same shuffle, batch j to rank j % n, last round wrapped", () => {
  const order = Int32Array.from([9, 3, 7, 1, 0, 5, 2, 8, 6, 4]);
  const all = evenBatches(order, 4, 2); // 10 examples, rounds of 8 → 16 slots
  assertEquals(all.map((b) => [...b]), [[9, 3, 7, 1], [0, 5, 2, 8], [6, 4, 9, 3], [7, 1, 0, 5]]);
  assertEquals(rankBatches(all, 1, 2).map((b) => [...b]), [[0, 5, 2, 8], [7, 1, 0, 5]]);
  // One process: plain batches, the last one short, nothing repeated.
  assertEquals(evenBatches(order, 4, 1).map((b) => b.length), [4, 4, 2]);
});

Deno.test("launch: flags, the mpiexec line (train permissions + --allow-ffi for libmpich only) and failure messages", async () => {
  const o = parseLaunchArgs([
    "--num-processes",
    "3",
    "--hosts",
    "a:2,b:1",
    "--",
    "--from-scratch",
    "--seed",
    "1",
  ]);
  assertEquals([o.numProcesses, o.hosts, o.scriptArgs], [3, "a:2,b:1", ["--from-scratch", "--seed", "1"]]);
  assertThrows(() => parseLaunchArgs(["--num-processes", "0"]), Error, "positive integer");
  assertThrows(() => parseLaunchArgs(["--from-scratch"]), Error, "script arguments go after --");
  const perms = await trainPermissions();
  assert(perms.includes("--allow-read") && !perms.some((p) => p.startsWith("--allow-ffi")), `${perms}`);
  const cmd = mpiexecCommand(o, perms, "/tmp/x");
  assertEquals(cmd.slice(0, 5), ["mpiexec", "-n", "3", "-hosts", "a:2,b:1"]);
  assert(cmd.includes("--allow-ffi=/usr/lib/x86_64-linux-gnu/libmpich.so.12"), cmd.join(" "));
  assert(cmd.some((c) => c.startsWith("--allow-env=") && c.includes("PMI_RANK")), cmd.join(" "));
  assertEquals(cmd.slice(-4), [o.script, "--from-scratch", "--seed", "1"]);
  const banner = "=   PID 77 RUNNING AT vm\n=   EXIT CODE: 9\n";
  assertEquals(
    explainFailure(banner, new Map([[77, { rank: 2, host: "vm" }]])),
    "rank 2 (pid 77 on vm) was killed (exit code 9); mpiexec stopped the other ranks",
  );
  assertEquals(explainFailure("all fine", new Map()), null);
});
