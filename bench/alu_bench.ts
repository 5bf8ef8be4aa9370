/**
 * The multiply-add rate the adapter's compiled WGSL reaches with no memory traffic: the ceiling any matmul
 * kernel on it can approach. Each invocation runs `chains` independent vec4 chains `c = c * m + a`
 * (`unroll` updates per chain per loop iteration; WGSL `fma` would compile to the same multiply and add on
 * lavapipe, whose NIR options lower ffma), 8 invocations per workgroup, raw WebGPU. Prints a Markdown row
 * per configuration and one JSON line (GFLOP/s, counting a multiply-add as 2).
 *
 * On lavapipe every variable a loop carries costs a masked store per iteration, so one update per chain
 * per iteration measures that overhead; 16 chains of 4 updates approach the arithmetic rate.
 *
 *   deno run -A bench/alu_bench.ts [--rounds R]
 * @module
 */
import { median } from "./_timing.ts";

/** Chains × updates per iteration measured (vec4 chains). */
const CONFIGS: [number, number][] = [[2, 1], [8, 1], [8, 4], [16, 4], [32, 4]];
/** Multiply-adds per chain per invocation (the loop runs ITER / unroll times). */
const ITER = 4096;
/** Workgroups of 8 invocations per dispatch. */
const WORKGROUPS = 2048;
/** Dispatches per sync (Deno's onSubmittedWorkDone sleeps 10 ms after the work: bench/README.md). */
const PER_SYNC = 4;

/** The WGSL of one configuration. */
function _source(chains: number, unroll: number): string {
  let decl = "", body = "", sum = "";
  for (let i = 0; i < chains; i++) {
    decl += `  var c${i} = vec4f(f32(${i}) * 0.001 + x);\n`;
    for (let u = 0; u < unroll; u++) body += `    c${i} = c${i} * m + a;\n`;
    sum += `c${i} + `;
  }
  return `@group(0) @binding(0) var<storage, read_write> out: array<vec4f>; // (invocations) OVERWRITTEN
@compute @workgroup_size(8)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let x = f32(g.x) * 1e-6;
  let m = vec4f(0.999 + x);
  let a = vec4f(1e-7);
${decl}  for (var k = 0u; k < ${ITER / unroll}u; k++) {
${body}  }
  out[g.x] = ${sum}vec4f(0.0);
}`;
}

/** Runs the bench (only as the main module: `deno bench` and imports leave it alone). */
async function main(): Promise<void> {
  const rounds = Number(Deno.args[Deno.args.indexOf("--rounds") + 1] || 0) || 3;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("alu_bench: no WebGPU adapter");
  const device = await adapter.requestDevice();
  const out = device.createBuffer({ size: WORKGROUPS * 8 * 16, usage: GPUBufferUsage.STORAGE });
  const results: Record<string, number> = {};
  console.log(`adapter: ${adapter.info.description || adapter.info.vendor}`);
  console.log("| vec4 chains | updates per iteration | ms per dispatch | GFLOP/s |\n|---:|---:|---:|---:|");
  for (const [chains, unroll] of CONFIGS) {
    device.pushErrorScope("validation");
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module: device.createShaderModule({ code: _source(chains, unroll) }), entryPoint: "main" },
    });
    const group = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: out } }],
    });
    const run = async () => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      for (let i = 0; i < PER_SYNC; i++) pass.dispatchWorkgroups(WORKGROUPS);
      pass.end();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
    };
    await run(); // compiles
    const error = await device.popErrorScope();
    if (error) throw new Error(`alu_bench: the kernel did not run: ${error.message}`);
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      await run();
      times.push((performance.now() - t) / PER_SYNC);
    }
    const ms = median(times);
    const gflops = WORKGROUPS * 8 * ITER * chains * 4 * 2 / (ms / 1000) / 1e9;
    results[`${chains}x${unroll}`] = Number(gflops.toFixed(1));
    console.log(`| ${chains} | ${unroll} | ${ms.toFixed(1)} | ${gflops.toFixed(1)} |`);
  }
  console.log(JSON.stringify({ gflops: results }));
}

if (import.meta.main) await main();
