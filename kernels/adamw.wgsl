// The fused AdamW update (torch.optim.AdamW semantics) and the global gradient L2 norm used for
// clipping (torch.nn.utils.clip_grad_norm_).
//
// Contract: `adamw_step`/`adamw_step4` update param, m and v IN PLACE (read-modify-write of their outputs);
// `sumsq_partial`/`sumsq_partial4` and `sumsq_rows`/`sumsq_rows4` OVERWRITE their slots
// partials[offset .. offset + workgroups) only;
// `norm_finish` / `clip_finish` OVERWRITE their 1-element outputs. Tensors are contiguous f32.
// The 1-D grid of the elementwise entry points is split over x/y (see splitGrid): the linear index is
// (wid.y * nwg.x + wid.x) * 256 + lid.x, bounds-checked.
//
// UNIFORMS: entry points read their parameters as `p_u[wid.z]` (always element 0: grids have one layer in
// z). Lavapipe inlines uniform values that feed branch conditions or loop bounds when they are loaded at
// constant offsets and compiles a new shader variant for every new set of values (here: every new row
// count); the dynamic index keeps one compiled shader for all shapes.

// ---- adamw_step ------------------------------------------------------------------------------------------
// For every element, with g = grad * (use_scale ? scale[0] : 1):
//   p ← p · decay                                  decay = 1 − lr·weight_decay (host)
//   m ← lerp(m, g, w1)                             w1 = 1 − β1 (torch's lerp_, both branches)
//   v ← v · β2 + g² · (1 − β2)
//   p ← p − step_size · m / (sqrt(v) / bc2_sqrt + eps)   step_size = lr / (1 − β1^t), bc2_sqrt =
//                                                          sqrt(1 − β2^t), both from float64 on the host
struct AdamParams {
  n: u32,           // elements
  use_scale: u32,   // 1: multiply the gradient by scale[0]
  decay: f32,       // 1 − lr·weight_decay
  w1: f32,          // 1 − β1
  beta2: f32,       // β2
  one_m_beta2: f32, // 1 − β2
  step_size: f32,   // lr / bias_correction1
  bc2_sqrt: f32,    // sqrt(bias_correction2)
  eps: f32,         // eps
  pad0: u32,        // (size 48: uniform array elements are 16-byte multiples)
  pad1: u32,
  pad2: u32,
}

@group(0) @binding(0) var<storage, read> a_grad: array<f32>;         // (n) the gradient
@group(0) @binding(1) var<storage, read> a_scale: array<f32>;        // (1) gradient scale (clipping)
@group(0) @binding(2) var<storage, read_write> a_param: array<f32>;  // (n) updated in place
@group(0) @binding(3) var<storage, read_write> a_m: array<f32>;      // (n) first moment, in place
@group(0) @binding(4) var<storage, read_write> a_v: array<f32>;      // (n) second moment, in place
@group(0) @binding(5) var<uniform> pa_u: array<AdamParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(256)
fn adamw_step(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let pa = pa_u[wid.z];
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i >= pa.n) { return; }
  var g = a_grad[i];
  if (pa.use_scale != 0u) { g = g * a_scale[0]; }
  let p = a_param[i] * pa.decay;
  let m0 = a_m[i];
  var m: f32;
  if (pa.w1 < 0.5) {
    m = m0 + pa.w1 * (g - m0);
  } else {
    m = g - (g - m0) * (1.0 - pa.w1);
  }
  let v = a_v[i] * pa.beta2 + g * g * pa.one_m_beta2;
  let denom = sqrt(v) / pa.bc2_sqrt + pa.eps;
  a_param[i] = p - pa.step_size * (m / denom);
  a_m[i] = m;
  a_v[i] = v;
}

// adamw_step4: the same update on vec4s, for tensors whose size is a multiple of 4 (n counts vec4s).
@group(0) @binding(0) var<storage, read> a4_grad: array<vec4f>;         // (n/4)
@group(0) @binding(1) var<storage, read> a4_scale: array<f32>;          // (1)
@group(0) @binding(2) var<storage, read_write> a4_param: array<vec4f>;  // (n/4) in place
@group(0) @binding(3) var<storage, read_write> a4_m: array<vec4f>;      // (n/4) in place
@group(0) @binding(4) var<storage, read_write> a4_v: array<vec4f>;      // (n/4) in place
@group(0) @binding(5) var<uniform> pa4_u: array<AdamParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(256)
fn adamw_step4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let pa4 = pa4_u[wid.z];
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i >= pa4.n) { return; }
  var g = a4_grad[i];
  if (pa4.use_scale != 0u) { g = g * a4_scale[0]; }
  let p = a4_param[i] * pa4.decay;
  let m0 = a4_m[i];
  var m: vec4f;
  if (pa4.w1 < 0.5) {
    m = m0 + pa4.w1 * (g - m0);
  } else {
    m = g - (g - m0) * (1.0 - pa4.w1);
  }
  let v = a4_v[i] * pa4.beta2 + g * g * pa4.one_m_beta2;
  let denom = sqrt(v) / pa4.bc2_sqrt + pa4.eps;
  a4_param[i] = p - pa4.step_size * (m / denom);
  a4_m[i] = m;
  a4_v[i] = v;
}

// ---- sumsq_partial: partials[offset + w] = Σ x² over workgroup w's chunk ----------------------------------
struct PartialParams {
  n: u32,      // elements of x
  chunk: u32,  // elements per workgroup
  offset: u32, // first slot of this tensor in `partials`
  pad: u32,    // (size 16)
}

@group(0) @binding(0) var<storage, read> s_x: array<f32>;               // (n) one gradient tensor
@group(0) @binding(1) var<storage, read_write> s_partials: array<f32>;  // (P) slots of all tensors
@group(0) @binding(2) var<uniform> ps_u: array<PartialParams, 2>; // element 0 (see UNIFORMS)

var<workgroup> red: array<f32, 256>;

// Tree reduction of red[0..256) into red[0] (all invocations must call it).
fn reduce_red(l: u32) {
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (l < w) { red[l] += red[l + w]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn sumsq_partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let ps = ps_u[wid.z];
  let start = wid.x * ps.chunk;
  let end = min(start + ps.chunk, ps.n);
  var s = 0.0;
  for (var i = start + lid.x; i < end; i += 256u) {
    let x = s_x[i];
    s += x * x;
  }
  red[lid.x] = s;
  reduce_red(lid.x);
  if (lid.x == 0u) { s_partials[ps.offset + wid.x] = red[0]; }
}

// sumsq_partial4: the same on vec4s, for tensors whose size is a multiple of 4 (n, chunk count vec4s).
@group(0) @binding(0) var<storage, read> s4_x: array<vec4f>;  // (n/4)

@compute @workgroup_size(256)
fn sumsq_partial4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let ps = ps_u[wid.z];
  let start = wid.x * ps.chunk;
  let end = min(start + ps.chunk, ps.n);
  var s = vec4f(0.0);
  for (var i = start + lid.x; i < end; i += 256u) {
    let x = s4_x[i];
    s += x * x;
  }
  red[lid.x] = (s.x + s.y) + (s.z + s.w);
  reduce_red(lid.x);
  if (lid.x == 0u) { s_partials[ps.offset + wid.x] = red[0]; }
}

// ---- sumsq_rows: partials[offset + w] = Σ x[rows[e], c]² over workgroup w's entries e ----------------------
// The sum of squares of a row-sparse gradient (src/ops/embedding_grad.ts: zero outside its listed rows)
// over the listed rows only: `rows` holds distinct table rows or −1 (skipped). Workgroup w takes the
// entries [w·chunk, (w+1)·chunk) and walks their (entry, column) pairs in order: deterministic.
struct RowsParams {
  n: u32,      // entries of rows
  cols: u32,   // columns of x (C, or C/4 for sumsq_rows4)
  chunk: u32,  // entries per workgroup
  offset: u32, // first slot of this list in `partials`
}

@group(0) @binding(0) var<storage, read> r_x: array<f32>;               // (V, C) the gradient
@group(0) @binding(1) var<storage, read> r_rows: array<i32>;            // (n) rows or −1
@group(0) @binding(2) var<storage, read_write> r_partials: array<f32>;  // (P) slots of all tensors
@group(0) @binding(3) var<uniform> pr_u: array<RowsParams, 2>; // element 0 (see UNIFORMS)

// sumsq_rows4: the same on vec4s (C % 4 == 0; cols counts vec4s)
@group(0) @binding(0) var<storage, read> r4_x: array<vec4f>;            // (V, C/4)

@compute @workgroup_size(256)
fn sumsq_rows(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = pr_u[wid.z];
  let start = wid.x * pr.chunk * pr.cols;
  let end = min(wid.x * pr.chunk + pr.chunk, pr.n) * pr.cols;
  var s = 0.0;
  for (var i = start + lid.x; i < end; i += 256u) {
    let e = i / pr.cols;
    let r = r_rows[e];
    if (r >= 0) {
      let x = r_x[u32(r) * pr.cols + (i - e * pr.cols)];
      s += x * x;
    }
  }
  red[lid.x] = s;
  reduce_red(lid.x);
  if (lid.x == 0u) { r_partials[pr.offset + wid.x] = red[0]; }
}

@compute @workgroup_size(256)
fn sumsq_rows4(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pr = pr_u[wid.z];
  let start = wid.x * pr.chunk * pr.cols;
  let end = min(wid.x * pr.chunk + pr.chunk, pr.n) * pr.cols;
  var s = vec4f(0.0);
  for (var i = start + lid.x; i < end; i += 256u) {
    let e = i / pr.cols;
    let r = r_rows[e];
    if (r >= 0) {
      let x = r4_x[u32(r) * pr.cols + (i - e * pr.cols)];
      s += x * x;
    }
  }
  red[lid.x] = (s.x + s.y) + (s.z + s.w);
  reduce_red(lid.x);
  if (lid.x == 0u) { r_partials[pr.offset + wid.x] = red[0]; }
}

// ---- norm_finish / clip_finish: norm = sqrt(Σ partials); scale = min(1, max_norm / (norm + 1e-6)) -------
struct FinishParams {
  count: u32,     // partial slots
  max_norm: f32,  // clipping threshold (clip_finish)
  pad0: u32,      // (size 16)
  pad1: u32,
}

@group(0) @binding(0) var<storage, read> f_partials: array<f32>;        // (P)
@group(0) @binding(1) var<storage, read_write> f_norm: array<f32>;      // (1)
@group(0) @binding(2) var<uniform> pf1_u: array<FinishParams, 2>; // element 0 (see UNIFORMS)

@group(0) @binding(2) var<storage, read_write> f_scale: array<f32>;     // (1)
@group(0) @binding(3) var<uniform> pf2_u: array<FinishParams, 2>; // element 0 (see UNIFORMS)

fn sum_partials(l: u32, count: u32) -> f32 {
  var s = 0.0;
  for (var i = l; i < count; i += 256u) { s += f_partials[i]; }
  red[l] = s;
  reduce_red(l);
  return red[0];
}

@compute @workgroup_size(256)
fn norm_finish(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pf1 = pf1_u[wid.z];
  let total = sum_partials(lid.x, pf1.count);
  if (lid.x == 0u) { f_norm[0] = sqrt(total); }
}

@compute @workgroup_size(256)
fn clip_finish(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pf2 = pf2_u[wid.z];
  let total = sum_partials(lid.x, pf2.count);
  if (lid.x == 0u) {
    let norm = sqrt(total);
    f_norm[0] = norm;
    f_scale[0] = min(1.0, pf2.max_norm / (norm + 1e-6));
  }
}
