// The fused AdamW update (torch.optim.AdamW semantics) and the global gradient L2 norm used for
// clipping (torch.nn.utils.clip_grad_norm_).
//
// Contract: `adamw_step`/`adamw_step4` update param, m and v IN PLACE (read-modify-write of their outputs);
// `adamw_step4_io` reads them from staged copies and OVERWRITES the outputs;
// `sumsq_partial`/`sumsq_partial4` and `sumsq_rows`/`sumsq_rows4` OVERWRITE their slots
// partials[offset .. offset + workgroups) only;
// `norm_finish` / `clip_finish` OVERWRITE their 1-element outputs; the lazy-row kernels' contracts are in
// their section. Tensors are contiguous f32.
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

// The update of one step on 4 elements (adamw_step4 and the lazy-row kernels share it, so a replayed
// step computes exactly what the dense kernel computes).
struct StepConsts {
  decay: f32,       // 1 − lr·weight_decay
  w1: f32,          // 1 − β1
  beta2: f32,       // β2
  one_m_beta2: f32, // 1 − β2
  step_size: f32,   // lr / bias_correction1
  bc2_sqrt: f32,    // sqrt(bias_correction2)
  eps: f32,         // eps
  pad: f32,         // (size 32)
}

struct Adam4 {
  p: vec4f,
  m: vec4f,
  v: vec4f,
}

fn adam_update4(p0: vec4f, g: vec4f, m0: vec4f, v0: vec4f, k: StepConsts) -> Adam4 {
  let p = p0 * k.decay;
  var m: vec4f;
  if (k.w1 < 0.5) {
    m = m0 + k.w1 * (g - m0);
  } else {
    m = g - (g - m0) * (1.0 - k.w1);
  }
  let v = v0 * k.beta2 + g * g * k.one_m_beta2;
  let denom = sqrt(v) / k.bc2_sqrt + k.eps;
  return Adam4(p - k.step_size * (m / denom), m, v);
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
  let k = StepConsts(pa4.decay, pa4.w1, pa4.beta2, pa4.one_m_beta2, pa4.step_size, pa4.bc2_sqrt, pa4.eps, 0.0);
  let u = adam_update4(a4_param[i], g, a4_m[i], a4_v[i], k);
  a4_param[i] = u.p;
  a4_m[i] = u.m;
  a4_v[i] = u.v;
}

// adamw_step4_io: adamw_step4 with param, m and v read through separate read-only bindings (ai_*) and
// written to the outputs. Only dispatched with every ai_* input staged into a texture copy
// (src/engine/staged_loads.ts: CPU adapters, where texture loads are far cheaper than buffer loads): the
// same buffer cannot be bound read-only and read-write in one dispatch. Same arithmetic as adamw_step4.
@group(0) @binding(0) var<storage, read> ai_grad: array<vec4f>;          // (n/4)
@group(0) @binding(1) var<storage, read> ai_param: array<vec4f>;         // (n/4) param before the step
@group(0) @binding(2) var<storage, read> ai_m: array<vec4f>;             // (n/4) m before the step
@group(0) @binding(3) var<storage, read> ai_v: array<vec4f>;             // (n/4) v before the step
@group(0) @binding(4) var<storage, read> ai_scale: array<f32>;           // (1)
@group(0) @binding(5) var<storage, read_write> ai_param_out: array<vec4f>; // (n/4) OVERWRITTEN
@group(0) @binding(6) var<storage, read_write> ai_m_out: array<vec4f>;     // (n/4) OVERWRITTEN
@group(0) @binding(7) var<storage, read_write> ai_v_out: array<vec4f>;     // (n/4) OVERWRITTEN
@group(0) @binding(8) var<uniform> pai_u: array<AdamParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(256)
fn adamw_step4_io(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_id) lid: vec3u) {
  let pa = pai_u[wid.z];
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i >= pa.n) { return; }
  var g = ai_grad[i];
  if (pa.use_scale != 0u) { g = g * ai_scale[0]; }
  let k = StepConsts(pa.decay, pa.w1, pa.beta2, pa.one_m_beta2, pa.step_size, pa.bc2_sqrt, pa.eps, 0.0);
  let u = adam_update4(ai_param[i], g, ai_m[i], ai_v[i], k);
  ai_param_out[i] = u.p;
  ai_m_out[i] = u.m;
  ai_v_out[i] = u.v;
}

// ---- lazy rows: the same update, deferred for the rows of a table a step does not touch ----------------
// src/ops/adamw_lazy.ts. A table whose gradient is zero outside listed rows (the word embeddings) is
// updated only on the rows a step lists; every other row records in last[r] the step through which it is
// current, and its zero-gradient steps are replayed later, in order, with the very constants and the very
// update of adamw_step4 (adam_update4 with g = 0): before a lookup reads it (ids), or for every row before
// anything else reads the table or its moments. torch's dense AdamW computes the same operations on the
// same values, so the result is bitwise equal.
//
//   lazy_rows4:  rows from `list` (mode 0: distinct rows or −1) or every row (mode 1: entry e is row e):
//                replay steps last[r]+1 .. t with g = 0, then (apply = 1) step t + 1 with
//                g = grad[r] (· scale[0] when use_scale). param, m, v: read-modify-write IN PLACE.
//   lazy_last:   last[r] = value for the same rows. OVERWRITES those entries of last.
//   lazy_claim:  owner[r] = min { e : ids[e] − row0 == r } over the ids that fall in [0, rows) (atomicMin).
//   lazy_select: list[e] = r when e == owner[r], else −1; the owner token resets owner[r] to 0xFFFFFFFF.
//                OVERWRITES list. Contract: owner is 0xFFFFFFFF everywhere between calls.
//   lazy_set_step: steps[s] = the constants of step s (one invocation). OVERWRITES that entry.
// One invocation per (entry, column) pair (lazy_rows4) or per entry (the others); x/y grids of 256.
struct LazyParams {
  n: u32,          // entries of list (mode 0) or rows (mode 1)
  cols: u32,       // C / 4
  pad0: u32,
  mode: u32,       // 0: rows from list; 1: every row
  t: u32,          // replay zero-gradient steps through t
  apply: u32,      // 1: then apply step t + 1 with the gradient
  use_scale: u32,  // 1: multiply the gradient by scale[0]
  value: u32,      // lazy_last: the step to record
}

@group(0) @binding(0) var<storage, read> l_list: array<i32>;            // (n) rows or −1 (mode 0)
@group(0) @binding(1) var<storage, read> l_last: array<u32>;            // (V) current through step
@group(0) @binding(2) var<storage, read> l_steps: array<vec4f>;        // (steps + 1, 2) constants by step
@group(0) @binding(3) var<storage, read> l_grad: array<vec4f>;          // (V, C/4) (apply = 1)
@group(0) @binding(4) var<storage, read> l_scale: array<f32>;           // (1)
@group(0) @binding(5) var<storage, read_write> l_param: array<vec4f>;   // (V, C/4) in place
@group(0) @binding(6) var<storage, read_write> l_m: array<vec4f>;       // (V, C/4) in place
@group(0) @binding(7) var<storage, read_write> l_v: array<vec4f>;       // (V, C/4) in place
@group(0) @binding(8) var<uniform> pl_u: array<LazyParams, 2>; // element 0 (see UNIFORMS)

// The constants of step s: two vec4s of the table (read from a staged texture copy on lavapipe, where the
// replay loop's buffer loads would cost several times the update itself).
fn lazy_consts(s: u32) -> StepConsts {
  let a = l_steps[2u * s];
  let b = l_steps[2u * s + 1u];
  return StepConsts(a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w);
}

// The linear index of a 256-wide entry point over an x/y grid (see splitGrid).
fn lazy_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

fn lazy_row(pl: LazyParams, e: u32) -> i32 {
  if (pl.mode == 1u) { return i32(e); }
  return l_list[e];
}

@compute @workgroup_size(256)
fn lazy_rows4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let pl = pl_u[wid.z];
  // One (entry, column) pair per invocation: lavapipe ends a shader after 65535 loop iterations in all,
  // so the replay loop below must be this invocation's only loop (the host keeps t − last[r] ≤ 60000).
  let i = lazy_index(wid, nwg, lid);
  if (i >= pl.n * pl.cols) { return; }
  let e = i / pl.cols;
  let r = lazy_row(pl, e);
  if (r < 0) { return; }
  let s0 = l_last[r] + 1u;
  if (s0 > pl.t && pl.apply == 0u) { return; }
  let o = u32(r) * pl.cols + (i - e * pl.cols);
  var u = Adam4(l_param[o], l_m[o], l_v[o]);
  let zero = vec4f(0.0);
  for (var s = s0; s <= pl.t; s++) { u = adam_update4(u.p, zero, u.m, u.v, lazy_consts(s)); }
  if (pl.apply != 0u) {
    var g = l_grad[o];
    if (pl.use_scale != 0u) { g = g * l_scale[0]; }
    u = adam_update4(u.p, g, u.m, u.v, lazy_consts(pl.t + 1u));
  }
  l_param[o] = u.p;
  l_m[o] = u.m;
  l_v[o] = u.v;
}

@group(0) @binding(1) var<storage, read_write> ll_last: array<u32>;     // (V)
@group(0) @binding(2) var<uniform> pll_u: array<LazyParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(256)
fn lazy_last(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let pll = pll_u[wid.z];
  let e = lazy_index(wid, nwg, lid);
  if (e >= pll.n) { return; }
  let r = lazy_row(pll, e);
  if (r >= 0) { ll_last[r] = pll.value; }
}

struct ClaimParams {
  n: u32,     // ids
  rows: u32,  // rows of this table (chunk)
  row0: u32,  // its first global row
  pad: u32,
}

@group(0) @binding(0) var<storage, read> lc_ids: array<i32>;                 // (n) global ids
@group(0) @binding(1) var<storage, read_write> lc_owner: array<atomic<u32>>; // (rows)
@group(0) @binding(2) var<uniform> plc_u: array<ClaimParams, 2>; // element 0 (see UNIFORMS)

fn lazy_local(id: i32, pc: ClaimParams) -> i32 {
  let r = id - i32(pc.row0);
  if (r < 0 || r >= i32(pc.rows)) { return -1; }
  return r;
}

@compute @workgroup_size(256)
fn lazy_claim(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let pc = plc_u[wid.z];
  let e = lazy_index(wid, nwg, lid);
  if (e >= pc.n) { return; }
  let r = lazy_local(lc_ids[e], pc);
  if (r >= 0) { atomicMin(&lc_owner[r], e); }
}

@group(0) @binding(1) var<storage, read_write> ls_owner: array<atomic<u32>>; // (rows)
@group(0) @binding(2) var<storage, read_write> ls_list: array<i32>;          // (n) row or −1
@group(0) @binding(3) var<uniform> pls_u: array<ClaimParams, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(256)
fn lazy_select(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let ps = pls_u[wid.z];
  let e = lazy_index(wid, nwg, lid);
  if (e >= ps.n) { return; }
  let r = lazy_local(lc_ids[e], ps);
  var out = -1;
  if (r >= 0 && atomicLoad(&ls_owner[r]) == e) {
    out = r;
    atomicStore(&ls_owner[r], 0xFFFFFFFFu);
  }
  ls_list[e] = out;
}

@group(0) @binding(0) var<storage, read_write> lt_steps: array<StepConsts>;  // (capacity)
@group(0) @binding(1) var<uniform> plt_u: array<SetStepParams, 2>; // element 0 (see UNIFORMS)

struct SetStepParams {
  s: u32,     // the step
  pad0: u32,
  pad1: u32,
  pad2: u32,
  k: StepConsts,
}

@compute @workgroup_size(1)
fn lazy_set_step(@builtin(workgroup_id) wid: vec3u) {
  let pt = plt_u[wid.z];
  lt_steps[pt.s] = pt.k;
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

// ---- adamw_multi4 / sumsq_multi4: many tensors per launch (torch's multi-tensor "foreach" kernels) --------
// WGSL cannot index bindings, so each launch has fixed slots, each with its own bindings, and a switch picks
// the slot's. Workgroups are laid out slot after slot: slot s owns the linear workgroups [wg0_s, wg0_{s+1})
// ((wid.y * nwg.x + wid.x), see splitGrid) and inside them exactly the elements adamw_step4 /
// sumsq_partial4 would give that workgroup index for its tensor alone, with the same arithmetic
// (adam_update4; the same chunk sums and tree reduction), so every tensor's result is bitwise the per-tensor
// kernel's. Unused slots have n = 0 and wg0 = the launch's workgroup count, and bind 16-byte dummies.
// Parameters are vec4u rows read as `u[wid.z + row]` (wid.z is 0; a dynamic index, see UNIFORMS).
//
// adamw_multi4: up to 6 tensors (vec4s); param, m and v IN PLACE, like adamw_step4.
//   row 0 = (use_scale, w1, beta2, one_m_beta2)   row 1 = (eps, -, -, -)   (floats as their bits)
//   row 2 + 2s = (n_s vec4s, wg0_s, decay_s, step_size_s)   row 3 + 2s = (bc2_sqrt_s, -, -, -)
@group(0) @binding(0) var<storage, read> am_g0: array<vec4f>;         // (n0) gradient of slot 0
@group(0) @binding(1) var<storage, read> am_g1: array<vec4f>;         // (n1) gradient of slot 1
@group(0) @binding(2) var<storage, read> am_g2: array<vec4f>;         // (n2) gradient of slot 2
@group(0) @binding(3) var<storage, read> am_g3: array<vec4f>;         // (n3) gradient of slot 3
@group(0) @binding(4) var<storage, read> am_g4: array<vec4f>;         // (n4) gradient of slot 4
@group(0) @binding(5) var<storage, read> am_g5: array<vec4f>;         // (n5) gradient of slot 5
@group(0) @binding(6) var<storage, read> am_scale: array<f32>;          // (1) gradient scale (clipping)
@group(0) @binding(7) var<storage, read_write> am_p0: array<vec4f>;   // (n0) parameter, in place
@group(0) @binding(8) var<storage, read_write> am_m0: array<vec4f>;   // (n0) first moment, in place
@group(0) @binding(9) var<storage, read_write> am_v0: array<vec4f>;   // (n0) second moment, in place
@group(0) @binding(10) var<storage, read_write> am_p1: array<vec4f>;  // (n1) parameter, in place
@group(0) @binding(11) var<storage, read_write> am_m1: array<vec4f>;  // (n1) first moment, in place
@group(0) @binding(12) var<storage, read_write> am_v1: array<vec4f>;  // (n1) second moment, in place
@group(0) @binding(13) var<storage, read_write> am_p2: array<vec4f>;  // (n2) parameter, in place
@group(0) @binding(14) var<storage, read_write> am_m2: array<vec4f>;  // (n2) first moment, in place
@group(0) @binding(15) var<storage, read_write> am_v2: array<vec4f>;  // (n2) second moment, in place
@group(0) @binding(16) var<storage, read_write> am_p3: array<vec4f>;  // (n3) parameter, in place
@group(0) @binding(17) var<storage, read_write> am_m3: array<vec4f>;  // (n3) first moment, in place
@group(0) @binding(18) var<storage, read_write> am_v3: array<vec4f>;  // (n3) second moment, in place
@group(0) @binding(19) var<storage, read_write> am_p4: array<vec4f>;  // (n4) parameter, in place
@group(0) @binding(20) var<storage, read_write> am_m4: array<vec4f>;  // (n4) first moment, in place
@group(0) @binding(21) var<storage, read_write> am_v4: array<vec4f>;  // (n4) second moment, in place
@group(0) @binding(22) var<storage, read_write> am_p5: array<vec4f>;  // (n5) parameter, in place
@group(0) @binding(23) var<storage, read_write> am_m5: array<vec4f>;  // (n5) first moment, in place
@group(0) @binding(24) var<storage, read_write> am_v5: array<vec4f>;  // (n5) second moment, in place
@group(0) @binding(25) var<uniform> pam_u: array<vec4u, 16>; // rows above

// The linear workgroup index's slot: the last one whose first workgroup is ≤ w (rows 2 + 2s of `u`, wg0 in .y).
fn multi_slot_adam(z: u32, w: u32) -> u32 {
  var s = 0u;
  for (var j = 1u; j < 6u; j++) {
    if (w >= pam_u[z + 2u + 2u * j].y) { s = j; }
  }
  return s;
}

fn am_grad(g: vec4f, use_scale: u32) -> vec4f {
  if (use_scale != 0u) { return g * am_scale[0]; }
  return g;
}

@compute @workgroup_size(256)
fn adamw_multi4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid: vec3u) {
  let z = wid.z;
  let h0 = pam_u[z];
  let h1 = pam_u[z + 1u];
  let w = wid.y * nwg.x + wid.x;
  let s = multi_slot_adam(z, w);
  let a = pam_u[z + 2u + 2u * s];
  let i = (w - a.y) * 256u + lid.x;
  if (i >= a.x) { return; }
  let k = StepConsts(bitcast<f32>(a.z), bitcast<f32>(h0.y), bitcast<f32>(h0.z), bitcast<f32>(h0.w),
                     bitcast<f32>(a.w), bitcast<f32>(pam_u[z + 3u + 2u * s].x), bitcast<f32>(h1.x), 0.0);
  switch s {
    case 0u: {
      let u = adam_update4(am_p0[i], am_grad(am_g0[i], h0.x), am_m0[i], am_v0[i], k);
      am_p0[i] = u.p; am_m0[i] = u.m; am_v0[i] = u.v;
    }
    case 1u: {
      let u = adam_update4(am_p1[i], am_grad(am_g1[i], h0.x), am_m1[i], am_v1[i], k);
      am_p1[i] = u.p; am_m1[i] = u.m; am_v1[i] = u.v;
    }
    case 2u: {
      let u = adam_update4(am_p2[i], am_grad(am_g2[i], h0.x), am_m2[i], am_v2[i], k);
      am_p2[i] = u.p; am_m2[i] = u.m; am_v2[i] = u.v;
    }
    case 3u: {
      let u = adam_update4(am_p3[i], am_grad(am_g3[i], h0.x), am_m3[i], am_v3[i], k);
      am_p3[i] = u.p; am_m3[i] = u.m; am_v3[i] = u.v;
    }
    case 4u: {
      let u = adam_update4(am_p4[i], am_grad(am_g4[i], h0.x), am_m4[i], am_v4[i], k);
      am_p4[i] = u.p; am_m4[i] = u.m; am_v4[i] = u.v;
    }
    default: {
      let u = adam_update4(am_p5[i], am_grad(am_g5[i], h0.x), am_m5[i], am_v5[i], k);
      am_p5[i] = u.p; am_m5[i] = u.m; am_v5[i] = u.v;
    }
  }
}

// sumsq_multi4: up to 7 tensors (vec4s); OVERWRITES partials[offset_s + w − wg0_s] for every workgroup
// w < total of slot s: the slots sumsq_partial4 would write for that tensor alone at offset_s.
//   row 0 = (total workgroups, -, -, -)   row 1 + s = (n_s vec4s, chunk_s vec4s, wg0_s, offset_s)
@group(0) @binding(0) var<storage, read> sm_x0: array<vec4f>;          // (n0) tensor of slot 0
@group(0) @binding(1) var<storage, read> sm_x1: array<vec4f>;          // (n1) tensor of slot 1
@group(0) @binding(2) var<storage, read> sm_x2: array<vec4f>;          // (n2) tensor of slot 2
@group(0) @binding(3) var<storage, read> sm_x3: array<vec4f>;          // (n3) tensor of slot 3
@group(0) @binding(4) var<storage, read> sm_x4: array<vec4f>;          // (n4) tensor of slot 4
@group(0) @binding(5) var<storage, read> sm_x5: array<vec4f>;          // (n5) tensor of slot 5
@group(0) @binding(6) var<storage, read> sm_x6: array<vec4f>;          // (n6) tensor of slot 6
@group(0) @binding(7) var<storage, read_write> sm_partials: array<f32>;  // (P) slots of all tensors
@group(0) @binding(8) var<uniform> psm_u: array<vec4u, 16>; // rows above

@compute @workgroup_size(256)
fn sumsq_multi4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid: vec3u) {
  let z = wid.z;
  let h = psm_u[z];
  let w = wid.y * nwg.x + wid.x;
  var s = 0u;
  for (var j = 1u; j < 7u; j++) {
    if (w >= psm_u[z + 1u + j].z) { s = j; }
  }
  let a = psm_u[z + 1u + s];
  let start = (w - min(w, a.z)) * a.y;
  let end = min(start + a.y, a.x);
  var acc = vec4f(0.0);
  switch s {
    case 0u: { for (var i = start + lid.x; i < end; i += 256u) { let x = sm_x0[i]; acc += x * x; } }
    case 1u: { for (var i = start + lid.x; i < end; i += 256u) { let x = sm_x1[i]; acc += x * x; } }
    case 2u: { for (var i = start + lid.x; i < end; i += 256u) { let x = sm_x2[i]; acc += x * x; } }
    case 3u: { for (var i = start + lid.x; i < end; i += 256u) { let x = sm_x3[i]; acc += x * x; } }
    case 4u: { for (var i = start + lid.x; i < end; i += 256u) { let x = sm_x4[i]; acc += x * x; } }
    case 5u: { for (var i = start + lid.x; i < end; i += 256u) { let x = sm_x5[i]; acc += x * x; } }
    default: { for (var i = start + lid.x; i < end; i += 256u) { let x = sm_x6[i]; acc += x * x; } }
  }
  red[lid.x] = (acc.x + acc.y) + (acc.z + acc.w);
  reduce_red(lid.x);
  if (lid.x == 0u && w < h.x) { sm_partials[a.w + w - a.z] = red[0]; }
}
