// Autocast casts (mixed precision, `--fp16`): round_f16 rounds f32 values to the nearest IEEE binary16
// value (ties to even; beyond ±65504 they become ±Inf, as a cast to torch.float16 does; NaN stays NaN) and
// stores them back as f32, so any fp32 kernel then computes on fp16 inputs with fp32 accumulation. Used
// for the matmul paths that read storage buffers directly (mm_generic, mm_shared); the texture path
// rounds while staging (pack_tex's fp16 variant, src/ops/matmul.ts). Needs the `shader-f16` feature.
//
// Contract: round_f16 OVERWRITES y. The 1-D grid is split over x/y (see splitGrid): the element index is
// (wid.y * nwg.x + wid.x) * 256 + lid.x, bounds-checked.
enable f16;

struct Params {
  n: u32,     // elements
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;         // (n)
@group(0) @binding(1) var<storage, read_write> y: array<f32>;   // (n)
@group(0) @binding(2) var<uniform> p: Params;

@compute @workgroup_size(256)
fn round_f16(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i < p.n) { y[i] = f32(f16(x[i])); }
}
