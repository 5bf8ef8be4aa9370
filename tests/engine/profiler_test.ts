import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { gpu } from "../../src/engine/gpu.ts";
import { traceDispatches } from "../../src/engine/dispatch_trace.ts";
import { profiling, startProfiling, stopProfiling } from "../../src/engine/profiler.ts";
import { profileFromArgs } from "../../src/engine/profiler_cli.ts";
import { Tensor, tidy } from "../../src/engine/tensor.ts";
import { add } from "../../src/ops/elementwise.ts";
import { matmul, matmulFlops } from "../../src/ops/matmul.ts";
import { setupGpu } from "../_util.ts";

await setupGpu();

const M = 96, K = 200, N = 72;
const _rand = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7));

/** Encodes 3 products and 2 adds (two flushes) and waits. */
async function _work(): Promise<string[]> {
  const a = Tensor.from(_rand(M * K), [M, K]), b = Tensor.from(_rand(K * N), [K, N]);
  const { labels } = await traceDispatches(async () => {
    tidy(() => {
      const c = matmul(a, b);
      add(c, c);
      matmul(a, b);
    });
    gpu().flush();
    tidy(() => void add(matmul(a, b), matmul(a, b)));
    await gpu().sync();
  });
  a.dispose();
  b.dispose();
  return labels;
}

Deno.test("profiler: every dispatch is counted under its label, timed by GPU timestamps, with GFLOP/s", async () => {
  assert(gpu().device.features.has("timestamp-query"), "lavapipe exposes timestamp-query");
  await _work(); // warm pipelines
  startProfiling({ timing: "timestamps" });
  assert(profiling());
  const labels = await _work();
  const r = await stopProfiling();
  assert(!profiling());
  assertEquals(r.timing, "GPU timestamps");
  assertEquals(r.dispatches, labels.length);
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  for (const [label, n] of counts) {
    const row = r.rows.find((x) => x.name === label);
    assert(row, `row for ${label}`);
    assertEquals(row.calls, n, label);
    assert(row.totalMs > 0, `${label} has GPU time`);
    assertEquals(row.family, label.split(".")[0]);
  }
  const mm = r.rows.find((x) => x.name.startsWith("matmul.mm_"))!;
  assert(Number.isFinite(mm.gflops) && mm.gflops > 0, "matmul knows its FLOPs");
  // every product here is one launch of M×K·K×N
  assertEquals(mm.calls, 4);
  const want = (4 * matmulFlops(M, N, K)) / mm.totalMs / 1e6;
  assert(Math.abs(mm.gflops - want) <= 1e-6 * want, `${mm.gflops} vs ${want}`);
  const js = r.rows.find((x) => x.name === "host: js between dispatches")!;
  assert(js.calls >= labels.length - 1 && js.calls <= labels.length, `js gaps ${js.calls}`);
  assert(r.rows.some((x) => x.name.startsWith("host: sync wait")));
  assert(r.submits >= 2, `submits ${r.submits}`);
  assert(r.gpuMs <= r.wallMs * 1.05 + 1, `kernel time ${r.gpuMs} within wall ${r.wallMs}`);
  const table = r.table({ steps: 2 });
  assert(table.includes("GPU timestamps") && table.includes("| matmul."), table);
  const trace = r.chromeTrace().traceEvents;
  const gpuEvents = trace.filter((e) => e.ph === "X" && e.tid === 2);
  assertEquals(gpuEvents.length, labels.length);
  for (const e of gpuEvents) assert((e.dur as number) > 0 && Number.isFinite(e.ts as number));
});

Deno.test("profiler: on the CPU adapter each kernel is submitted alone and timed by its submit", async () => {
  assert(gpu().describe().isFallbackAdapter, "lavapipe is a fallback adapter");
  startProfiling();
  const labels = await _work();
  const r = await stopProfiling();
  assert(r.timing.startsWith("host timing per dispatch"), r.timing);
  assert(r.submits >= labels.length && r.submits <= labels.length + 2, `one submit per kernel: ${r.submits}`);
  for (const label of new Set(labels)) {
    const row = r.rows.find((x) => x.name === label)!;
    assert(row.totalMs > 0, label);
  }
  assert(r.gpuMs <= r.wallMs, `kernel time ${r.gpuMs} within wall ${r.wallMs}`);
  assertEquals(r.chromeTrace().traceEvents.filter((e) => e.ph === "X" && e.tid === 2).length, labels.length);
});

Deno.test("profiler: without timestamps, flushed groups are timed on the host and kernels only counted", async () => {
  startProfiling({ forceHostTiming: true });
  const labels = await _work();
  const r = await stopProfiling();
  assertEquals(r.timing, "host timing of flushed groups");
  const groups = r.rows.filter((x) => x.family === "group");
  assertEquals(groups.reduce((s, g) => s + g.calls, 0), r.submits);
  assertEquals(
    r.rows.filter((x) => x.name.endsWith("(launches only)")).reduce((s, x) => s + x.calls, 0),
    labels.length,
  );
  assert(r.gpuMs > 0);
});

Deno.test("profiler: one profile at a time; stop without start is an error", async () => {
  startProfiling();
  assertThrows(() => startProfiling(), Error, "already recording");
  await stopProfiling();
  let err = "";
  await stopProfiling().catch((e) => err = e.message);
  assert(err.includes("no profile is recording"), err);
});

Deno.test("profiler: --profile and --profile-trace are taken out of the arguments; the trace is written", async () => {
  assertEquals(profileFromArgs(["--lr", "1"]).enabled, false);
  assertThrows(() => profileFromArgs(["--profile-trace"]), Error, "expected a file name");
  const file = await Deno.makeTempFile({ suffix: ".json" });
  const printed: string[] = [];
  const sw = profileFromArgs(["a", "--profile", "--profile-trace", file, "b"], (s) => printed.push(s));
  assert(sw.enabled);
  assertEquals(sw.rest, ["a", "b"]);
  await sw.around(() => _work());
  const report = await sw.finish(1);
  assert(report && report.dispatches > 0);
  assert(printed[0].startsWith("profile: host timing per dispatch"), printed[0]);
  const trace = JSON.parse(await Deno.readTextFile(file));
  assert(trace.traceEvents.some((e: { name: string }) => e.name.startsWith("matmul.")));
  assertEquals(await sw.finish(), null, "finished once");
  await Deno.remove(file);
});
