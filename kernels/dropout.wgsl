// Inverted dropout (PyTorch semantics) with a counter-based mask; the host prepends kernels/rng.wgsl.
//   keep(i) = rng_uniform(seed, i) >= p          (p as f32; element i of the flattened tensor)
//   y[i]    = keep(i) ? x[i] · scale : 0,         scale = f32(1 / (1 - p))
// The backward is the same map applied to dy (dx = keep ? dy · scale : 0): the mask is regenerated from
// (seed, i), never stored. Dropped elements are exactly 0, whatever x holds.
//
// Contract: `apply` OVERWRITES its output. Elements are processed four at a time: the host binds both
// buffers rounded up to 16 bytes (pool buffers are 256-byte multiples), so the last vec4 may read and write
// a few padding elements past n, which belong to the same buffers and are never observed.
// The 1-D grid is split over x/y (see splitGrid): vec4 index = (wid.y * nwg.x + wid.x) * 256 + lid.x.

struct Params {
  n4: u32,    // number of vec4 groups, ceil(n / 4)
  seed: u32,  // RNG stream
  p: f32,     // drop probability
  scale: f32, // 1 / (1 - p), or 0 when p == 1
}

@group(0) @binding(0) var<storage, read> src: array<vec4f>;       // (n) x, or dy in the backward
@group(0) @binding(1) var<storage, read_write> dst: array<vec4f>; // (n) y, or dx in the backward
@group(0) @binding(2) var<uniform> prm: Params;

fn keep_scale(i: u32) -> f32 {
  return select(0.0, prm.scale, rng_uniform(prm.seed, i) >= prm.p);
}

@compute @workgroup_size(256)
fn apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_id) lid: vec3u) {
  let j = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (j >= prm.n4) { return; }
  let i = 4u * j;
  let m = vec4f(keep_scale(i), keep_scale(i + 1u), keep_scale(i + 2u), keep_scale(i + 3u));
  dst[j] = select(vec4f(0.0), src[j] * m, m != vec4f(0.0));
}
