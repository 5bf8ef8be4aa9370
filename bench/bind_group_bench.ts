/**
 * What a dispatch's bind group costs on the host: encoding N tiny dispatches with a new bind group each
 * (`createBindGroup`, as every dispatch did before src/engine/bind_groups.ts) against one reused group
 * with the params uniform at a dynamic offset (what the engine does now), raw WebGPU, alternating rounds.
 * Prints one JSON line of the median µs per dispatch for encoding, and for finishing + running the batch.
 *
 *   deno run -A bench/bind_group_bench.ts [--dispatches N] [--rounds R]
 * @module
 */
import { median } from "./_timing.ts";

/** Runs the bench (only as the main module: `deno bench` and imports leave it alone). */
async function main(): Promise<void> {
  const arg = (k: string, d: number) => Number(Deno.args[Deno.args.indexOf(k) + 1] || 0) || d;
  const N = arg("--dispatches", 3000), rounds = arg("--rounds", 3);

  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error("bind_group_bench: no WebGPU adapter");
  const device = await adapter.requestDevice();
  const code = `@group(0) @binding(0) var<storage, read> a: array<f32>;        // (n)
  @group(0) @binding(1) var<storage, read> b: array<f32>;        // (n)
  @group(0) @binding(2) var<storage, read_write> c: array<f32>;  // (n) OVERWRITTEN
  @group(0) @binding(3) var<uniform> u: vec4u;                   // n in .x
  @compute @workgroup_size(64)
  fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < u.x) { c[g.x] = a[g.x] + b[g.x]; } }`;
  const visibility = GPUShaderStage.COMPUTE;
  const layout = device.createBindGroupLayout({
    entries: [
      { binding: 0, visibility, buffer: { type: "read-only-storage" } },
      { binding: 1, visibility, buffer: { type: "read-only-storage" } },
      { binding: 2, visibility, buffer: { type: "storage" } },
      { binding: 3, visibility, buffer: { type: "uniform", hasDynamicOffset: true } },
    ],
  });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
  });
  const bufs = [0, 1, 2].map(() => device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE }));
  const ring = device.createBuffer({
    size: 256 * 4096,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
  });
  const group = () =>
    device.createBindGroup({
      layout,
      entries: [
        ...bufs.map((buffer, binding) => ({ binding, resource: { buffer, offset: 0, size: 4096 } })),
        { binding: 3, resource: { buffer: ring, offset: 0, size: 256 } },
      ],
    });

  async function measure(reuse: boolean): Promise<[number, number]> {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    const fixed = group();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, reuse ? fixed : group(), [(i % 4096) * 256]);
      pass.dispatchWorkgroups(1);
    }
    const t1 = performance.now();
    pass.end();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    const t2 = performance.now();
    return [(t1 - t0) / N * 1000, (t2 - t1) / N * 1000];
  }

  const res: Record<"create" | "reuse", [number[], number[]]> = { create: [[], []], reuse: [[], []] };
  await measure(false);
  for (let r = 0; r < rounds; r++) {
    for (const mode of ["create", "reuse"] as const) {
      const [e, f] = await measure(mode === "reuse");
      res[mode][0].push(e);
      res[mode][1].push(f);
    }
  }
  const info = adapter.info;
  console.log(JSON.stringify({
    adapter: info.description || info.device || info.vendor,
    dispatches: N,
    encode_us_new_group: +median(res.create[0]).toFixed(1),
    encode_us_reused_group: +median(res.reuse[0]).toFixed(1),
    finish_and_run_us_new_group: +median(res.create[1]).toFixed(1),
    finish_and_run_us_reused_group: +median(res.reuse[1]).toFixed(1),
  }));
}

if (import.meta.main) await main();
