/**
 * Staged loads (src/engine/staged_loads.ts) against the buffer kernels, side by side in one process,
 * rounds alternating so that machine noise hits both: a bare load-only kernel, a load+store copy and AdamW
 * at demo and bert-base sizes, plus the raw costs the design rests on (copyBufferToTexture, a texture
 * load). Prints one JSON line per case with the median milliseconds of each mode.
 *
 *   deno run -A bench/staged_loads_bench.ts [--rounds R]
 * @module
 */
import { initGpu, splitGrid } from "../src/engine/gpu.ts";
import { dispatchStaged, setStagedLoads } from "../src/engine/staged_loads.ts";
import { Tensor } from "../src/engine/tensor.ts";
import { AdamW } from "../src/ops/adamw.ts";
import { median, secondsPerCall } from "./_timing.ts";

const _LOAD = `
@group(0) @binding(0) var<storage, read> bl_x: array<vec4f>;      // (n)
@group(0) @binding(1) var<storage, read_write> bl_out: array<vec4f>; // (n) written only if a value is odd
@group(0) @binding(2) var<uniform> bl_u: array<vec4u, 2>;
@compute @workgroup_size(256)
fn load_only(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i >= bl_u[wid.z].x) { return; }
  let v = bl_x[i];
  if (v.x == 12345.0) { bl_out[i] = v; }
}
@compute @workgroup_size(256)
fn copy(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i >= bl_u[wid.z].x) { return; }
  bl_out[i] = bl_x[i];
}`;

async function main(args: string[]): Promise<void> {
  const i = args.indexOf("--rounds");
  const rounds = i >= 0 ? Number(args[i + 1]) : 3;
  await initGpu();
  const cases: { name: string; run: () => void; reps: number; cleanup: () => void }[] = [];
  for (const n of [1 << 20]) {
    const x = Tensor.from(new Float32Array(n).fill(0.5), [n]).keep(), y = Tensor.empty([n]).keep();
    for (const entry of ["load_only", "copy"]) {
      cases.push({
        name: `${entry} ${n} floats`,
        reps: 20,
        run: () =>
          dispatchStaged({
            label: `bench.${entry}`,
            code: _LOAD,
            entryPoint: entry,
            inputs: [x.res],
            outputs: [y.res],
            params: [n / 4, 0, 0, 0],
            workgroups: splitGrid(n / 4 / 256),
          }, ["bl_x"]),
        cleanup: () => {},
      });
    }
  }
  for (const n of [480_256, 2_359_296]) { // the demo's dense parameters; one bert-base FFN matrix
    const p = Tensor.from(new Float32Array(n).fill(0.1), [n], "f32", "p").keep();
    p.grad = Tensor.from(new Float32Array(n).fill(0.01), [n], "f32", "g").keep();
    const opt = new AdamW([{ param: p, weightDecay: 0.01 }], { lr: 1e-3 });
    cases.push({
      name: `AdamW ${n} parameters`,
      reps: 10,
      run: () => opt.step(),
      cleanup: () => opt.dispose(),
    });
  }
  for (const c of cases) {
    const ms: Record<string, number[]> = { buffer: [], staged: [] };
    for (let r = 0; r < rounds; r++) {
      for (const mode of ["buffer", "staged"] as const) {
        setStagedLoads(mode === "staged" ? "on" : "off");
        ms[mode].push(1000 * await secondsPerCall(c.run, c.reps));
      }
    }
    setStagedLoads("auto");
    const buffer = median(ms.buffer), staged = median(ms.staged);
    console.log(
      JSON.stringify({ case: c.name, buffer_ms: buffer, staged_ms: staged, speedup: buffer / staged }),
    );
    c.cleanup();
  }
}

if (import.meta.main) await main(Deno.args);
