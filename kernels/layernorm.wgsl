// LayerNorm over the last dimension: x is viewed as (R, C) rows of length C; per row
//   mean = Σx / C,  var = Σ(x - mean)² / C (biased),  rstd = 1 / sqrt(var + eps),
//   y = (x - mean) · rstd · weight + bias                                  (PyTorch nn.LayerNorm)
// Backward with xhat = (x - mean) · rstd and gw = dy · weight:
//   dx = rstd · (gw - mean_c(gw) - xhat · mean_c(gw · xhat))
//   dweight[c] = Σ_r dy[r, c] · xhat[r, c],   dbias[c] = Σ_r dy[r, c]
//
// Contract: every entry point OVERWRITES its outputs (nothing accumulates). Reductions run in a fixed
// order, so results are bitwise deterministic.
//
// Entry points:
//   forward          one workgroup per row (linear workgroup index over an x/y grid, see splitGrid):
//                    writes y, mean, rstd. The row is shifted by its first element before summing, which
//                    keeps the mean and variance accurate for rows with a large common offset.
//   backward_dx      one workgroup per block of `block_rows` consecutive rows: writes dx for those rows and
//                    this block's column partial sums of dy·xhat and dy into `partial` (2, nblocks, C).
//   backward_params  one invocation per column: sums the nblocks partials in block order into dweight and
//                    dbias (the second stage of the deterministic row reduction).
//   forward4, backward_dx4, backward_params4
//                    the same with vec4 loads, used when C % 4 == 0 (4× fewer memory operations).
//   add_forward      residual add fused with forward: y = LayerNorm(a + b). Reads a and b, writes
//                    s = a + b (the backward's x), y, mean and rstd in one workgroup per row. The sums run in
//                    the same order as forward on s, so every output is bitwise what add then forward give.
//   add_backward_dx  backward_dx that writes dx twice, to dx_a and dx_b (the gradients of a and b in a + b
//                    are the same tensor, and the tape owns every gradient once): no copy kernels after it.
//   add_forward4, add_backward_dx4
//                    their vec4 variants (C % 4 == 0). backward_params(4) serves both paths. With
//                    drop_on they also apply dropout to a (see drop4): y = LayerNorm(dropout(a) + b),
//                    s = dropout(a) + b, and dx_a is dropout's backward of dx (dx_b stays dx); the rows
//                    variants add_forward_rows4 / add_backward_dx_rows4 likewise.
//   forward_rows, forward_rows4, add_forward_rows, add_forward_rows4,
//   backward_dx_rows, backward_dx_rows4, add_backward_dx_rows, add_backward_dx_rows4
//                    the same with ONE INVOCATION PER ROW (global index over an x/y grid of WG-wide
//                    workgroups) and serial sums, no workgroup memory and no barriers: for CPU adapters,
//                    where a workgroup per row costs more than its row. Same outputs and formulas; only
//                    the order of the row sums differs from the workgroup kernels. The backward's blocks are
//                    single rows (block_rows = 1, nblocks = R: `partial` is (2, R, C), each row writing its
//                    dy·xhat and dy), so backward_params sums the rows in order; lavapipe ends a shader
//                    after 65535 loop iterations in all (a 70001-row dbias summed 65535 rows), so the
//                    host takes the rows backward only up to 60000 rows. The add_ variants sum in the
//                    same order as the plain ones, so they stay bitwise equal to them.

// Invocations per workgroup (row kernels stride over the row by WG; must be a power of two). The host picks
// it per adapter: 8 (one SIMD group, cheap barriers) on CPU adapters such as lavapipe, 64 on GPUs.
override WG: u32 = 64u;
// add_forward_rows4: false skips storing s = a + b (no backward will read it: inference); the host then
// binds a placeholder for it. The other entry points ignore it (add_forward4 reads s back).
override SAVE_SUM: bool = true;

struct Params {
  rows: u32,       // R
  cols: u32,       // C
  eps: f32,        // added to the variance inside the square root
  block_rows: u32, // rows per workgroup in backward_dx
  nblocks: u32,    // ceil(R / block_rows)
  drop_on: u32,    // add_*4 only: 1 = dropout on a (the sublayer's output) before the residual add
  drop_seed: u32,  // its mask's stream (kernels/dropout.wgsl's seed)
  drop_p: f32,     // drop probability
  drop_scale: f32, // 1 / (1 - p), or 0 when p == 1
}

// Dropout fused into the residual add (add_forward4, add_forward_rows4 and their backward_dx): with
// drop_on, y = LayerNorm(dropout(a) + b) and the gradient of a is dropout's backward of the gradient of the
// sum. The mask is kernels/dropout.wgsl's, regenerated from (drop_seed, flat element index i), and the
// value is its `select(0, v · m, m != 0)`: bitwise `dropout` then add + LayerNorm. Identity without drop_on.
fn drop_keep(q: Params, i: u32) -> f32 {
  return select(0.0, q.drop_scale, rng_uniform(q.drop_seed, i) >= q.drop_p);
}

fn drop4(q: Params, v: vec4f, j: u32) -> vec4f {
  if (q.drop_on == 0u) { return v; }
  let i = 4u * j;
  let m = vec4f(drop_keep(q, i), drop_keep(q, i + 1u), drop_keep(q, i + 2u), drop_keep(q, i + 3u));
  return select(vec4f(0.0), v * m, m != vec4f(0.0));
}

// ---- forward bindings ----
@group(0) @binding(0) var<storage, read> f_x: array<f32>;          // (R, C)
@group(0) @binding(1) var<storage, read> f_w: array<f32>;          // (C)
@group(0) @binding(2) var<storage, read> f_b: array<f32>;          // (C)
@group(0) @binding(3) var<storage, read_write> f_y: array<f32>;    // (R, C)
@group(0) @binding(4) var<storage, read_write> f_mean: array<f32>; // (R)
@group(0) @binding(5) var<storage, read_write> f_rstd: array<f32>; // (R)
@group(0) @binding(6) var<uniform> fp: Params;

// ---- backward_dx bindings ----
@group(0) @binding(0) var<storage, read> d_dy: array<f32>;            // (R, C)
@group(0) @binding(1) var<storage, read> d_x: array<f32>;             // (R, C)
@group(0) @binding(2) var<storage, read> d_w: array<f32>;             // (C)
@group(0) @binding(3) var<storage, read> d_mean: array<f32>;          // (R)
@group(0) @binding(4) var<storage, read> d_rstd: array<f32>;          // (R)
@group(0) @binding(5) var<storage, read_write> d_dx: array<f32>;      // (R, C)
@group(0) @binding(6) var<storage, read_write> d_partial: array<f32>; // (2, nblocks, C): dw then db partials
@group(0) @binding(7) var<uniform> dp: Params;

// ---- backward_params bindings ----
@group(0) @binding(0) var<storage, read> p_partial: array<f32>; // (2, nblocks, C)
@group(0) @binding(1) var<storage, read_write> p_dw: array<f32>; // (C)
@group(0) @binding(2) var<storage, read_write> p_db: array<f32>; // (C)
@group(0) @binding(3) var<uniform> pp: Params;

var<workgroup> red: array<vec2f, WG>;

// Sum of `v` over the workgroup (tree in a fixed order); every invocation gets the total. Must be called
// in uniform control flow.
fn wg_sum2(v: vec2f, lid: u32) -> vec2f {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid3: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= fp.rows) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C = fp.cols;
  let base = row * C;
  let shift = f_x[base];
  var s = 0.0;
  for (var c = lid; c < C; c += WG) { s += f_x[base + c] - shift; }
  let m = wg_sum2(vec2f(s, 0.0), lid).x / f32(C); // mean of the shifted row
  var q = 0.0;
  for (var c = lid; c < C; c += WG) {
    let d = (f_x[base + c] - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(wg_sum2(vec2f(q, 0.0), lid).x / f32(C) + fp.eps);
  for (var c = lid; c < C; c += WG) {
    f_y[base + c] = ((f_x[base + c] - shift) - m) * rstd * f_w[c] + f_b[c];
  }
  if (lid == 0u) {
    f_mean[row] = shift + m;
    f_rstd[row] = rstd;
  }
}

@compute @workgroup_size(WG)
fn backward_dx(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid3: vec3u) {
  let blk = wid.y * nwg.x + wid.x;
  if (blk >= dp.nblocks) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C = dp.cols;
  let r0 = blk * dp.block_rows;
  let r1 = min(r0 + dp.block_rows, dp.rows);
  let pw = blk * C;                // this block's dweight partials
  let pb = (dp.nblocks + blk) * C; // this block's dbias partials
  for (var c = lid; c < C; c += WG) {
    d_partial[pw + c] = 0.0;
    d_partial[pb + c] = 0.0;
  }
  for (var r = r0; r < r1; r++) {
    let base = r * C;
    let mean = d_mean[r];
    let rstd = d_rstd[r];
    var acc = vec2f(0.0);
    for (var c = lid; c < C; c += WG) {
      let gw = d_dy[base + c] * d_w[c];
      acc += vec2f(gw, gw * (d_x[base + c] - mean) * rstd);
    }
    let sums = wg_sum2(acc, lid) / f32(C);
    for (var c = lid; c < C; c += WG) {
      let g = d_dy[base + c];
      let xhat = (d_x[base + c] - mean) * rstd;
      d_dx[base + c] = rstd * (g * d_w[c] - sums.x - xhat * sums.y);
      // Column partials: this invocation owns columns lid, lid + WG, ... in every row, so no races.
      d_partial[pw + c] += g * xhat;
      d_partial[pb + c] += g;
    }
  }
}

@compute @workgroup_size(WG)
fn backward_params(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid3: vec3u) {
  let c = (wid.y * nwg.x + wid.x) * WG + lid3.x;
  let C = pp.cols;
  if (c >= C) { return; }
  var sw = 0.0;
  var sb = 0.0;
  for (var k = 0u; k < pp.nblocks; k++) {
    sw += p_partial[k * C + c];
    sb += p_partial[(pp.nblocks + k) * C + c];
  }
  p_dw[c] = sw;
  p_db[c] = sb;
}

// ---- vec4 variants (C % 4 == 0): the same algorithms with four columns per load ----

// forward4 bindings
@group(0) @binding(0) var<storage, read> f4_x: array<vec4f>;          // (R, C/4)
@group(0) @binding(1) var<storage, read> f4_w: array<vec4f>;          // (C/4)
@group(0) @binding(2) var<storage, read> f4_b: array<vec4f>;          // (C/4)
@group(0) @binding(3) var<storage, read_write> f4_y: array<vec4f>;    // (R, C/4)
@group(0) @binding(4) var<storage, read_write> f4_mean: array<f32>;   // (R)
@group(0) @binding(5) var<storage, read_write> f4_rstd: array<f32>;   // (R)

// backward_dx4 bindings
@group(0) @binding(0) var<storage, read> d4_dy: array<vec4f>;            // (R, C/4)
@group(0) @binding(1) var<storage, read> d4_x: array<vec4f>;             // (R, C/4)
@group(0) @binding(2) var<storage, read> d4_w: array<vec4f>;             // (C/4)
@group(0) @binding(3) var<storage, read> d4_mean: array<f32>;            // (R)
@group(0) @binding(4) var<storage, read> d4_rstd: array<f32>;            // (R)
@group(0) @binding(5) var<storage, read_write> d4_dx: array<vec4f>;      // (R, C/4)
@group(0) @binding(6) var<storage, read_write> d4_partial: array<vec4f>; // (2, nblocks, C/4)

// backward_params4 bindings
@group(0) @binding(0) var<storage, read> p4_partial: array<vec4f>; // (2, nblocks, C/4)
@group(0) @binding(1) var<storage, read_write> p4_dw: array<vec4f>; // (C/4)
@group(0) @binding(2) var<storage, read_write> p4_db: array<vec4f>; // (C/4)

fn hsum(v: vec4f) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size(WG)
fn forward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid3: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= fp.rows) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C4 = fp.cols / 4u;
  let base = row * C4;
  let shift = vec4f(f4_x[base].x);
  var s = vec4f(0.0);
  for (var c = lid; c < C4; c += WG) { s += f4_x[base + c] - shift; }
  let m = wg_sum2(vec2f(hsum(s), 0.0), lid).x / f32(fp.cols);
  var q = vec4f(0.0);
  for (var c = lid; c < C4; c += WG) {
    let d = (f4_x[base + c] - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(wg_sum2(vec2f(hsum(q), 0.0), lid).x / f32(fp.cols) + fp.eps);
  for (var c = lid; c < C4; c += WG) {
    f4_y[base + c] = ((f4_x[base + c] - shift) - m) * rstd * f4_w[c] + f4_b[c];
  }
  if (lid == 0u) {
    f4_mean[row] = shift.x + m;
    f4_rstd[row] = rstd;
  }
}

@compute @workgroup_size(WG)
fn backward_dx4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid3: vec3u) {
  let blk = wid.y * nwg.x + wid.x;
  if (blk >= dp.nblocks) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C4 = dp.cols / 4u;
  let r0 = blk * dp.block_rows;
  let r1 = min(r0 + dp.block_rows, dp.rows);
  let pw = blk * C4;
  let pb = (dp.nblocks + blk) * C4;
  for (var c = lid; c < C4; c += WG) {
    d4_partial[pw + c] = vec4f(0.0);
    d4_partial[pb + c] = vec4f(0.0);
  }
  for (var r = r0; r < r1; r++) {
    let base = r * C4;
    let mean = d4_mean[r];
    let rstd = d4_rstd[r];
    var a = vec4f(0.0);
    var b = vec4f(0.0);
    for (var c = lid; c < C4; c += WG) {
      let gw = d4_dy[base + c] * d4_w[c];
      a += gw;
      b += gw * (d4_x[base + c] - mean) * rstd;
    }
    let sums = wg_sum2(vec2f(hsum(a), hsum(b)), lid) / f32(dp.cols);
    for (var c = lid; c < C4; c += WG) {
      let g = d4_dy[base + c];
      let xhat = (d4_x[base + c] - mean) * rstd;
      d4_dx[base + c] = rstd * (g * d4_w[c] - sums.x - xhat * sums.y);
      d4_partial[pw + c] += g * xhat;
      d4_partial[pb + c] += g;
    }
  }
}

@compute @workgroup_size(WG)
fn backward_params4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid3: vec3u) {
  let c = (wid.y * nwg.x + wid.x) * WG + lid3.x;
  let C4 = pp.cols / 4u;
  if (c >= C4) { return; }
  var sw = vec4f(0.0);
  var sb = vec4f(0.0);
  for (var k = 0u; k < pp.nblocks; k++) {
    sw += p4_partial[k * C4 + c];
    sb += p4_partial[(pp.nblocks + k) * C4 + c];
  }
  p4_dw[c] = sw;
  p4_db[c] = sb;
}

// ---- residual add fused with LayerNorm (y = LayerNorm(a + b)) ----

// add_forward bindings
@group(0) @binding(0) var<storage, read> af_a: array<f32>;          // (R, C)
@group(0) @binding(1) var<storage, read> af_b: array<f32>;          // (R, C)
@group(0) @binding(2) var<storage, read> af_w: array<f32>;          // (C)
@group(0) @binding(3) var<storage, read> af_bias: array<f32>;       // (C)
@group(0) @binding(4) var<storage, read_write> af_y: array<f32>;    // (R, C)
@group(0) @binding(5) var<storage, read_write> af_s: array<f32>;    // (R, C): a + b
@group(0) @binding(6) var<storage, read_write> af_mean: array<f32>; // (R)
@group(0) @binding(7) var<storage, read_write> af_rstd: array<f32>; // (R)
@group(0) @binding(8) var<uniform> ap: Params;

// add_backward_dx bindings
@group(0) @binding(0) var<storage, read> ad_dy: array<f32>;            // (R, C)
@group(0) @binding(1) var<storage, read> ad_x: array<f32>;             // (R, C): the saved a + b
@group(0) @binding(2) var<storage, read> ad_w: array<f32>;             // (C)
@group(0) @binding(3) var<storage, read> ad_mean: array<f32>;          // (R)
@group(0) @binding(4) var<storage, read> ad_rstd: array<f32>;          // (R)
@group(0) @binding(5) var<storage, read_write> ad_dxa: array<f32>;     // (R, C)
@group(0) @binding(6) var<storage, read_write> ad_dxb: array<f32>;     // (R, C): equal to ad_dxa
@group(0) @binding(7) var<storage, read_write> ad_partial: array<f32>; // (2, nblocks, C)
@group(0) @binding(8) var<uniform> adp: Params;

// add_forward4 bindings
@group(0) @binding(0) var<storage, read> af4_a: array<vec4f>;          // (R, C/4)
@group(0) @binding(1) var<storage, read> af4_b: array<vec4f>;          // (R, C/4)
@group(0) @binding(2) var<storage, read> af4_w: array<vec4f>;          // (C/4)
@group(0) @binding(3) var<storage, read> af4_bias: array<vec4f>;       // (C/4)
@group(0) @binding(4) var<storage, read_write> af4_y: array<vec4f>;    // (R, C/4)
@group(0) @binding(5) var<storage, read_write> af4_s: array<vec4f>;    // (R, C/4): a + b
@group(0) @binding(6) var<storage, read_write> af4_mean: array<f32>;   // (R)
@group(0) @binding(7) var<storage, read_write> af4_rstd: array<f32>;   // (R)

// add_backward_dx4 bindings
@group(0) @binding(0) var<storage, read> ad4_dy: array<vec4f>;            // (R, C/4)
@group(0) @binding(1) var<storage, read> ad4_x: array<vec4f>;             // (R, C/4)
@group(0) @binding(2) var<storage, read> ad4_w: array<vec4f>;             // (C/4)
@group(0) @binding(3) var<storage, read> ad4_mean: array<f32>;            // (R)
@group(0) @binding(4) var<storage, read> ad4_rstd: array<f32>;            // (R)
@group(0) @binding(5) var<storage, read_write> ad4_dxa: array<vec4f>;     // (R, C/4)
@group(0) @binding(6) var<storage, read_write> ad4_dxb: array<vec4f>;     // (R, C/4)
@group(0) @binding(7) var<storage, read_write> ad4_partial: array<vec4f>; // (2, nblocks, C/4)

@compute @workgroup_size(WG)
fn add_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid3: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= ap.rows) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C = ap.cols;
  let base = row * C;
  let shift = af_a[base] + af_b[base];
  var s = 0.0;
  for (var c = lid; c < C; c += WG) {
    let v = af_a[base + c] + af_b[base + c];
    af_s[base + c] = v; // read back below by this same invocation only
    s += v - shift;
  }
  let m = wg_sum2(vec2f(s, 0.0), lid).x / f32(C);
  var q = 0.0;
  for (var c = lid; c < C; c += WG) {
    let d = (af_s[base + c] - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(wg_sum2(vec2f(q, 0.0), lid).x / f32(C) + ap.eps);
  for (var c = lid; c < C; c += WG) {
    af_y[base + c] = ((af_s[base + c] - shift) - m) * rstd * af_w[c] + af_bias[c];
  }
  if (lid == 0u) {
    af_mean[row] = shift + m;
    af_rstd[row] = rstd;
  }
}

@compute @workgroup_size(WG)
fn add_backward_dx(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid3: vec3u) {
  let blk = wid.y * nwg.x + wid.x;
  if (blk >= adp.nblocks) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C = adp.cols;
  let r0 = blk * adp.block_rows;
  let r1 = min(r0 + adp.block_rows, adp.rows);
  let pw = blk * C;
  let pb = (adp.nblocks + blk) * C;
  for (var c = lid; c < C; c += WG) {
    ad_partial[pw + c] = 0.0;
    ad_partial[pb + c] = 0.0;
  }
  for (var r = r0; r < r1; r++) {
    let base = r * C;
    let mean = ad_mean[r];
    let rstd = ad_rstd[r];
    var acc = vec2f(0.0);
    for (var c = lid; c < C; c += WG) {
      let gw = ad_dy[base + c] * ad_w[c];
      acc += vec2f(gw, gw * (ad_x[base + c] - mean) * rstd);
    }
    let sums = wg_sum2(acc, lid) / f32(C);
    for (var c = lid; c < C; c += WG) {
      let g = ad_dy[base + c];
      let xhat = (ad_x[base + c] - mean) * rstd;
      let dx = rstd * (g * ad_w[c] - sums.x - xhat * sums.y);
      ad_dxa[base + c] = dx;
      ad_dxb[base + c] = dx;
      ad_partial[pw + c] += g * xhat;
      ad_partial[pb + c] += g;
    }
  }
}

@compute @workgroup_size(WG)
fn add_forward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid3: vec3u) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= ap.rows) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C4 = ap.cols / 4u;
  let base = row * C4;
  let shift = vec4f(drop4(ap, af4_a[base], base).x + af4_b[base].x);
  var s = vec4f(0.0);
  for (var c = lid; c < C4; c += WG) {
    let v = drop4(ap, af4_a[base + c], base + c) + af4_b[base + c];
    af4_s[base + c] = v; // read back below by this same invocation only
    s += v - shift;
  }
  let m = wg_sum2(vec2f(hsum(s), 0.0), lid).x / f32(ap.cols);
  var q = vec4f(0.0);
  for (var c = lid; c < C4; c += WG) {
    let d = (af4_s[base + c] - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(wg_sum2(vec2f(hsum(q), 0.0), lid).x / f32(ap.cols) + ap.eps);
  for (var c = lid; c < C4; c += WG) {
    af4_y[base + c] = ((af4_s[base + c] - shift) - m) * rstd * af4_w[c] + af4_bias[c];
  }
  if (lid == 0u) {
    af4_mean[row] = shift.x + m;
    af4_rstd[row] = rstd;
  }
}

@compute @workgroup_size(WG)
fn add_backward_dx4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid3: vec3u) {
  let blk = wid.y * nwg.x + wid.x;
  if (blk >= adp.nblocks) { return; } // uniform per workgroup
  let lid = lid3.x;
  let C4 = adp.cols / 4u;
  let r0 = blk * adp.block_rows;
  let r1 = min(r0 + adp.block_rows, adp.rows);
  let pw = blk * C4;
  let pb = (adp.nblocks + blk) * C4;
  for (var c = lid; c < C4; c += WG) {
    ad4_partial[pw + c] = vec4f(0.0);
    ad4_partial[pb + c] = vec4f(0.0);
  }
  for (var r = r0; r < r1; r++) {
    let base = r * C4;
    let mean = ad4_mean[r];
    let rstd = ad4_rstd[r];
    var a = vec4f(0.0);
    var b = vec4f(0.0);
    for (var c = lid; c < C4; c += WG) {
      let gw = ad4_dy[base + c] * ad4_w[c];
      a += gw;
      b += gw * (ad4_x[base + c] - mean) * rstd;
    }
    let sums = wg_sum2(vec2f(hsum(a), hsum(b)), lid) / f32(adp.cols);
    for (var c = lid; c < C4; c += WG) {
      let g = ad4_dy[base + c];
      let xhat = (ad4_x[base + c] - mean) * rstd;
      let dx = rstd * (g * ad4_w[c] - sums.x - xhat * sums.y);
      ad4_dxa[base + c] = drop4(adp, dx, base + c);
      ad4_dxb[base + c] = dx;
      ad4_partial[pw + c] += g * xhat;
      ad4_partial[pb + c] += g;
    }
  }
}

// ---- one invocation per row (CPU adapters): see the header ----

// The row index of a rows kernel: the linear invocation index over an x/y grid of WG-wide workgroups.
fn row_of(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.y * nwg.x + wid.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn forward_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid3: vec3u) {
  let row = row_of(wid, nwg, lid3.x);
  if (row >= fp.rows) { return; }
  let C = fp.cols;
  let base = row * C;
  let shift = f_x[base];
  var s = 0.0;
  for (var c = 0u; c < C; c++) { s += f_x[base + c] - shift; }
  let m = s / f32(C);
  var q = 0.0;
  for (var c = 0u; c < C; c++) {
    let d = (f_x[base + c] - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(q / f32(C) + fp.eps);
  for (var c = 0u; c < C; c++) {
    f_y[base + c] = ((f_x[base + c] - shift) - m) * rstd * f_w[c] + f_b[c];
  }
  f_mean[row] = shift + m;
  f_rstd[row] = rstd;
}

@compute @workgroup_size(WG)
fn forward_rows4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_id) lid3: vec3u) {
  let row = row_of(wid, nwg, lid3.x);
  if (row >= fp.rows) { return; }
  let C4 = fp.cols / 4u;
  let base = row * C4;
  let shift = vec4f(f4_x[base].x);
  var s = vec4f(0.0);
  for (var c = 0u; c < C4; c++) { s += f4_x[base + c] - shift; }
  let m = hsum(s) / f32(fp.cols);
  var q = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let d = (f4_x[base + c] - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(hsum(q) / f32(fp.cols) + fp.eps);
  for (var c = 0u; c < C4; c++) {
    f4_y[base + c] = ((f4_x[base + c] - shift) - m) * rstd * f4_w[c] + f4_b[c];
  }
  f4_mean[row] = shift.x + m;
  f4_rstd[row] = rstd;
}

@compute @workgroup_size(WG)
fn add_forward_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid3: vec3u) {
  let row = row_of(wid, nwg, lid3.x);
  if (row >= ap.rows) { return; }
  let C = ap.cols;
  let base = row * C;
  let shift = af_a[base] + af_b[base];
  var s = 0.0;
  for (var c = 0u; c < C; c++) {
    let v = af_a[base + c] + af_b[base + c];
    af_s[base + c] = v; // read back below by this same invocation only
    s += v - shift;
  }
  let m = s / f32(C);
  var q = 0.0;
  for (var c = 0u; c < C; c++) {
    let d = (af_s[base + c] - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(q / f32(C) + ap.eps);
  for (var c = 0u; c < C; c++) {
    af_y[base + c] = ((af_s[base + c] - shift) - m) * rstd * af_w[c] + af_bias[c];
  }
  af_mean[row] = shift + m;
  af_rstd[row] = rstd;
}

@compute @workgroup_size(WG)
fn add_forward_rows4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_id) lid3: vec3u) {
  let row = row_of(wid, nwg, lid3.x);
  if (row >= ap.rows) { return; }
  let C4 = ap.cols / 4u;
  let base = row * C4;
  let shift = vec4f(drop4(ap, af4_a[base], base).x + af4_b[base].x);
  var s = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let v = drop4(ap, af4_a[base + c], base + c) + af4_b[base + c];
    if (SAVE_SUM) {
      af4_s[base + c] = v; // the backward's x; the loops below recompute a + b (texture loads are cheap
                           // where this path runs, buffer loads are not): the same f32 sums
    }
    s += v - shift;
  }
  let m = hsum(s) / f32(ap.cols);
  var q = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let d = ((drop4(ap, af4_a[base + c], base + c) + af4_b[base + c]) - shift) - m;
    q += d * d;
  }
  let rstd = 1.0 / sqrt(hsum(q) / f32(ap.cols) + ap.eps);
  for (var c = 0u; c < C4; c++) {
    let v = drop4(ap, af4_a[base + c], base + c) + af4_b[base + c];
    af4_y[base + c] = ((v - shift) - m) * rstd * af4_w[c] + af4_bias[c];
  }
  af4_mean[row] = shift.x + m;
  af4_rstd[row] = rstd;
}

@compute @workgroup_size(WG)
fn backward_dx_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_id) lid3: vec3u) {
  let r = row_of(wid, nwg, lid3.x);
  if (r >= dp.rows) { return; }
  let C = dp.cols;
  let base = r * C;
  let pw = r * C;               // this row's dweight terms
  let pb = (dp.rows + r) * C;   // this row's dbias terms
  let mean = d_mean[r];
  let rstd = d_rstd[r];
  var acc = vec2f(0.0);
  for (var c = 0u; c < C; c++) {
    let gw = d_dy[base + c] * d_w[c];
    acc += vec2f(gw, gw * (d_x[base + c] - mean) * rstd);
  }
  let sums = acc / f32(C);
  for (var c = 0u; c < C; c++) {
    let g = d_dy[base + c];
    let xhat = (d_x[base + c] - mean) * rstd;
    d_dx[base + c] = rstd * (g * d_w[c] - sums.x - xhat * sums.y);
    d_partial[pw + c] = g * xhat;
    d_partial[pb + c] = g;
  }
}

@compute @workgroup_size(WG)
fn backward_dx_rows4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                     @builtin(local_invocation_id) lid3: vec3u) {
  let r = row_of(wid, nwg, lid3.x);
  if (r >= dp.rows) { return; }
  let C4 = dp.cols / 4u;
  let base = r * C4;
  let pw = r * C4;
  let pb = (dp.rows + r) * C4;
  let mean = d4_mean[r];
  let rstd = d4_rstd[r];
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let gw = d4_dy[base + c] * d4_w[c];
    a += gw;
    b += gw * (d4_x[base + c] - mean) * rstd;
  }
  let sums = vec2f(hsum(a), hsum(b)) / f32(dp.cols);
  for (var c = 0u; c < C4; c++) {
    let g = d4_dy[base + c];
    let xhat = (d4_x[base + c] - mean) * rstd;
    d4_dx[base + c] = rstd * (g * d4_w[c] - sums.x - xhat * sums.y);
    d4_partial[pw + c] = g * xhat;
    d4_partial[pb + c] = g;
  }
}

@compute @workgroup_size(WG)
fn add_backward_dx_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                        @builtin(local_invocation_id) lid3: vec3u) {
  let r = row_of(wid, nwg, lid3.x);
  if (r >= adp.rows) { return; }
  let C = adp.cols;
  let base = r * C;
  let pw = r * C;
  let pb = (adp.rows + r) * C;
  let mean = ad_mean[r];
  let rstd = ad_rstd[r];
  var acc = vec2f(0.0);
  for (var c = 0u; c < C; c++) {
    let gw = ad_dy[base + c] * ad_w[c];
    acc += vec2f(gw, gw * (ad_x[base + c] - mean) * rstd);
  }
  let sums = acc / f32(C);
  for (var c = 0u; c < C; c++) {
    let g = ad_dy[base + c];
    let xhat = (ad_x[base + c] - mean) * rstd;
    let dx = rstd * (g * ad_w[c] - sums.x - xhat * sums.y);
    ad_dxa[base + c] = dx;
    ad_dxb[base + c] = dx;
    ad_partial[pw + c] = g * xhat;
    ad_partial[pb + c] = g;
  }
}

@compute @workgroup_size(WG)
fn add_backward_dx_rows4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                         @builtin(local_invocation_id) lid3: vec3u) {
  let r = row_of(wid, nwg, lid3.x);
  if (r >= adp.rows) { return; }
  let C4 = adp.cols / 4u;
  let base = r * C4;
  let pw = r * C4;
  let pb = (adp.rows + r) * C4;
  let mean = ad4_mean[r];
  let rstd = ad4_rstd[r];
  var a = vec4f(0.0);
  var b = vec4f(0.0);
  for (var c = 0u; c < C4; c++) {
    let gw = ad4_dy[base + c] * ad4_w[c];
    a += gw;
    b += gw * (ad4_x[base + c] - mean) * rstd;
  }
  let sums = vec2f(hsum(a), hsum(b)) / f32(adp.cols);
  for (var c = 0u; c < C4; c++) {
    let g = ad4_dy[base + c];
    let xhat = (ad4_x[base + c] - mean) * rstd;
    let dx = rstd * (g * ad4_w[c] - sums.x - xhat * sums.y);
    ad4_dxa[base + c] = drop4(adp, dx, base + c);
    ad4_dxb[base + c] = dx;
    ad4_partial[pw + c] = g * xhat;
    ad4_partial[pb + c] = g;
  }
}
