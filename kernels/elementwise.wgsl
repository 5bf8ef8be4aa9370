// Elementwise kernels and row reductions: fill, copy, add, accumulate, scale, multiply, bias add and the
// bias-gradient column sum (sum_rows; sum_rows4_partial / sum_rows4_finish for vec4 rows).
//
// Contract: every entry point OVERWRITES its output except `accumulate`, which ADDS into `out`
// (out += a; `accumulate4_io` computes the same from a staged copy of `out` and overwrites it). Tensors are contiguous row-major f32. The 1-D grid is split over x/y (see splitGrid): the
// linear element index is (wid.y * nwg.x + wid.x) * 256 + lid.x and every entry point bounds-checks it.

struct Params {
  n: u32,      // elements of the output
  cols: u32,   // row length for bias_add / sum_rows
  rows: u32,   // rows for sum_rows
  alpha: f32,  // fill value or scale factor
}

@group(0) @binding(0) var<storage, read> a: array<f32>;         // (n) or (rows, cols)
@group(0) @binding(1) var<storage, read> b: array<f32>;         // (n) or (cols)
@group(0) @binding(2) var<storage, read_write> out2: array<f32>; // (n) output after two inputs
@group(0) @binding(3) var<uniform> p2: Params;

@group(0) @binding(1) var<storage, read_write> out1: array<f32>; // (n) output after one input
@group(0) @binding(2) var<uniform> p1: Params;

@group(0) @binding(0) var<storage, read_write> out0: array<f32>; // (n) output with no input
@group(0) @binding(1) var<uniform> p0: Params;

fn linear(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i < p0.n) { out0[i] = p0.alpha; }
}

// out = a * alpha (alpha = 1 gives a copy)
@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i < p1.n) { out1[i] = a[i] * p1.alpha; }
}

// out += a * alpha   (ACCUMULATES)
@compute @workgroup_size(256)
fn accumulate(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i < p1.n) { out1[i] = out1[i] + a[i] * p1.alpha; }
}

// out = a + alpha * b
@compute @workgroup_size(256)
fn add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i < p2.n) { out2[i] = a[i] + p2.alpha * b[i]; }
}

// out = a * b
@compute @workgroup_size(256)
fn mul(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i < p2.n) { out2[i] = a[i] * b[i]; }
}

// out[r, c] = a[r, c] + b[c]
@compute @workgroup_size(256)
fn bias_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = linear(wid, nwg, lid);
  if (i < p2.n) { out2[i] = a[i] + b[i % p2.cols]; }
}

// out[c] = sum_r a[r, c]: one invocation per column, rows summed in order (the bias gradient).
@compute @workgroup_size(256)
fn sum_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let c = linear(wid, nwg, lid);
  if (c >= p1.cols) { return; }
  var s = 0.0;
  for (var r = 0u; r < p1.rows; r++) { s += a[r * p1.cols + c]; }
  out1[c] = s;
}

// ---- vec4 forms staged through textures (src/engine/staged_loads.ts: lavapipe) --------------------------
// n counts vec4s. accumulate4_io computes accumulate's out += a·alpha, but reads the old `out` through its
// own read-only binding (a staged copy: the same buffer cannot be bound read-only and read-write in one
// dispatch) and OVERWRITES out; add4 is add's out = a + alpha·b. Per component the arithmetic is the scalar
// kernels' (bitwise the same). Parameters are read as eu4[wid.z] (element 0: see adamw.wgsl's UNIFORMS).
@group(0) @binding(0) var<storage, read> ea_old: array<vec4f>;          // (n) out before the update
@group(0) @binding(1) var<storage, read> ea_a: array<vec4f>;            // (n)
@group(0) @binding(2) var<storage, read_write> ea_out: array<vec4f>;    // (n) OVERWRITTEN: old + a·alpha
@group(0) @binding(3) var<uniform> eu4: array<Params, 2>;               // element 0

@compute @workgroup_size(256)
fn accumulate4_io(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let p = eu4[wid.z];
  let i = linear(wid, nwg, lid);
  if (i < p.n) { ea_out[i] = ea_old[i] + ea_a[i] * p.alpha; }
}

@group(0) @binding(0) var<storage, read> e2_a: array<vec4f>;            // (n)
@group(0) @binding(1) var<storage, read> e2_b: array<vec4f>;            // (n)
@group(0) @binding(2) var<storage, read_write> e2_out: array<vec4f>;    // (n) OVERWRITTEN: a + alpha·b
@group(0) @binding(3) var<uniform> e2u4: array<Params, 2>;              // element 0

@compute @workgroup_size(256)
fn add4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
  let p = e2u4[wid.z];
  let i = linear(wid, nwg, lid);
  if (i < p.n) { e2_out[i] = e2_a[i] + p.alpha * e2_b[i]; }
}

// ---- sum_rows4: the bias-gradient column sum over vec4 columns (cols % 4 == 0), in two passes -----------
// sum_rows spreads only `cols` invocations (3 workgroups at cols = 768) over `rows` serial loads; this splits
// the rows into chunks so every core works: sum_rows4_partial writes part[y, c] = Σ a[r, c] over the rows
// r of chunk y (in order), sum_rows4_finish writes out[c] = Σ_y part[y, c] (in chunk order). With one chunk
// the partial pass writes `out` itself (then the sum is sum_rows' order exactly). Both OVERWRITE their output.
// Parameters are read as rs_u[gid.x >> 31] (element 0; an opaque index, see matmul.wgsl's UNIFORMS note:
// `rows` and `chunks` bound loops, and a constant-offset load would compile a variant per row count).
struct RowSumParams {
  cols4: u32,   // vec4 columns of a row
  rows: u32,    // rows of a
  chunk: u32,   // rows per chunk
  chunks: u32,  // chunks (rows of part)
}

@group(0) @binding(0) var<storage, read> rs_in: array<vec4f>;          // (rows, cols4) or part (chunks, cols4)
@group(0) @binding(1) var<storage, read_write> rs_out: array<vec4f>;   // part (chunks, cols4) or out (cols4)
@group(0) @binding(2) var<uniform> rs_u: array<RowSumParams, 2>;       // element 0

// Grid: (⌈cols4 / 64⌉, chunks).
@compute @workgroup_size(64)
fn sum_rows4_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let p = rs_u[gid.x >> 31u];
  let c = gid.x;
  if (c >= p.cols4) { return; }
  let r0 = wid.y * p.chunk;
  let r1 = min(r0 + p.chunk, p.rows);
  var s = vec4f(0.0);
  for (var r = r0; r < r1; r++) { s += rs_in[r * p.cols4 + c]; }
  rs_out[wid.y * p.cols4 + c] = s;
}

// Grid: (⌈cols4 / 64⌉).
@compute @workgroup_size(64)
fn sum_rows4_finish(@builtin(global_invocation_id) gid: vec3u) {
  let p = rs_u[gid.x >> 31u];
  let c = gid.x;
  if (c >= p.cols4) { return; }
  var s = vec4f(0.0);
  for (var y = 0u; y < p.chunks; y++) { s += rs_in[y * p.cols4 + c]; }
  rs_out[c] = s;
}

// ---- split_cols3 / concat_cols3: (rows, 3·c4) ↔ three (rows, c4) tensors, in vec4s -----------------------
// The fused Q/K/V projection's output is split into the three (B, T, H) inputs of attention, and the three
// gradients are concatenated back (src/model/fused_qkv.ts). Both OVERWRITE their outputs. Grid: the 1-D
// elementwise grid over rows·c4 (linear index i = row·c4 + column); parameters read as cs_u[wid.z] (element
// 0: an opaque index, see adamw.wgsl's UNIFORMS note).
struct ColsParams {
  rows: u32,  // rows of every tensor
  c4: u32,    // vec4 columns of one part (the whole has 3·c4)
  pad0: u32,
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> cs_whole: array<vec4f>;          // split: (rows, 3·c4)
@group(0) @binding(1) var<storage, read_write> cs_part0: array<vec4f>;    // split: (rows, c4)
@group(0) @binding(2) var<storage, read_write> cs_part1: array<vec4f>;    // split: (rows, c4)
@group(0) @binding(3) var<storage, read_write> cs_part2: array<vec4f>;    // split: (rows, c4)
@group(0) @binding(4) var<uniform> cs_u: array<ColsParams, 2>;            // element 0

@compute @workgroup_size(256)
fn split_cols3(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let p = cs_u[wid.z];
  let i = linear(wid, nwg, lid);
  if (i >= p.rows * p.c4) { return; }
  let r = i / p.c4;
  let at = i + 2u * r * p.c4; // r·3c4 + (i − r·c4)
  cs_part0[i] = cs_whole[at];
  cs_part1[i] = cs_whole[at + p.c4];
  cs_part2[i] = cs_whole[at + 2u * p.c4];
}

@group(0) @binding(0) var<storage, read> cc_part0: array<vec4f>;          // concat: (rows, c4)
@group(0) @binding(1) var<storage, read> cc_part1: array<vec4f>;          // concat: (rows, c4)
@group(0) @binding(2) var<storage, read> cc_part2: array<vec4f>;          // concat: (rows, c4)
@group(0) @binding(3) var<storage, read_write> cc_whole: array<vec4f>;    // concat: (rows, 3·c4)

@compute @workgroup_size(256)
fn concat_cols3(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid: vec3u) {
  let p = cs_u[wid.z];
  let i = linear(wid, nwg, lid);
  if (i >= p.rows * p.c4) { return; }
  let r = i / p.c4;
  let at = i + 2u * r * p.c4;
  cc_whole[at] = cc_part0[i];
  cc_whole[at + p.c4] = cc_part1[i];
  cc_whole[at + 2u * p.c4] = cc_part2[i];
}
