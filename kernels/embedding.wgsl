// Embedding lookup (gather) and its backward (deterministic scatter-add), nn.Embedding semantics:
//   out[n, c] = weight[ids[n], c]                  (0 when ids[n] is outside [0, V): never read out of bounds)
//   dweight[v, c] = Σ_{n : ids[n] = v} dy[n, c]    (rows v == pad get no gradient; bad ids are skipped)
//
// Contract: `forward`/`forward4` OVERWRITE their output; `backward`/`backward4` ACCUMULATE into dweight
// (dweight[ids[n], c] += dy[n, c]), so the host zeroes dweight first (with clearBuffer). WGSL has no float
// atomics: one invocation owns one column (c, or the vec4 of columns 4c..4c+3) and walks the N tokens in
// order, so there are no races and the sums are bitwise deterministic.
// The vec4 variants are used when C % 4 == 0. Grids of more than 65535 workgroups are split over x/y (see
// splitGrid): linear index = (wid.y * nwg.x + wid.x) * 64 + lid.x.

struct Params {
  n: u32,    // N tokens (flattened ids)
  cols: u32, // C
  vocab: u32, // V
  pad: i32,  // padding index, or -1 for none
}

// forward: ids (N), weight (V, C) -> out (N, C)
@group(0) @binding(0) var<storage, read> f_ids: array<i32>;       // (N)
@group(0) @binding(1) var<storage, read> f_w: array<f32>;         // (V, C)
@group(0) @binding(2) var<storage, read_write> f_out: array<f32>; // (N, C)
@group(0) @binding(3) var<uniform> fp: Params;

// forward4: the same with vec4 columns
@group(0) @binding(1) var<storage, read> f4_w: array<vec4f>;         // (V, C/4)
@group(0) @binding(2) var<storage, read_write> f4_out: array<vec4f>; // (N, C/4)

// backward: ids (N), dy (N, C) -> dweight (V, C) (accumulated)
@group(0) @binding(0) var<storage, read> b_ids: array<i32>;        // (N)
@group(0) @binding(1) var<storage, read> b_dy: array<f32>;         // (N, C)
@group(0) @binding(2) var<storage, read_write> b_dw: array<f32>;   // (V, C)
@group(0) @binding(3) var<uniform> bp: Params;

// backward4: the same with vec4 columns
@group(0) @binding(1) var<storage, read> b4_dy: array<vec4f>;       // (N, C/4)
@group(0) @binding(2) var<storage, read_write> b4_dw: array<vec4f>; // (V, C/4)

fn linear(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

fn valid(id: i32, vocab: u32) -> bool {
  return id >= 0 && u32(id) < vocab;
}

@compute @workgroup_size(64)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i >= fp.n * fp.cols) { return; }
  let n = i / fp.cols;
  let c = i - n * fp.cols;
  let id = f_ids[n];
  var v = 0.0;
  if (valid(id, fp.vocab)) { v = f_w[u32(id) * fp.cols + c]; }
  f_out[i] = v;
}

@compute @workgroup_size(64)
fn forward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  let C4 = fp.cols / 4u;
  if (i >= fp.n * C4) { return; }
  let n = i / C4;
  let c = i - n * C4;
  let id = f_ids[n];
  var v = vec4f(0.0);
  if (valid(id, fp.vocab)) { v = f4_w[u32(id) * C4 + c]; }
  f4_out[i] = v;
}

@compute @workgroup_size(64)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let c = linear(wid, nwg, lid);
  let C = bp.cols;
  if (c >= C) { return; }
  for (var n = 0u; n < bp.n; n++) {
    let id = b_ids[n];
    if (valid(id, bp.vocab) && id != bp.pad) {
      let o = u32(id) * C + c;
      b_dw[o] = b_dw[o] + b_dy[n * C + c];
    }
  }
}

@compute @workgroup_size(64)
fn backward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let c = linear(wid, nwg, lid);
  let C4 = bp.cols / 4u;
  if (c >= C4) { return; }
  for (var n = 0u; n < bp.n; n++) {
    let id = b_ids[n];
    if (valid(id, bp.vocab) && id != bp.pad) {
      let o = u32(id) * C4 + c;
      b4_dw[o] = b4_dw[o] + b4_dy[n * C4 + c];
    }
  }
}
