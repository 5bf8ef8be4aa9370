// Softmax cross-entropy over rows of logits with an ignore index (PyTorch CrossEntropyLoss, mean
// reduction over the non-ignored rows), its backward, and a plain row softmax for inference.
//
// Contract: every entry point OVERWRITES its outputs. Logits are contiguous row-major f32 (N, L); labels
// are i32 (N). A row whose label equals `ignore` contributes nothing. A label outside [0, L) that is not
// `ignore` is never used as an index: its row's loss is NaN (so a bad batch is visible in the loss; the
// host-side checkLabels names the position) and its gradient row is 0. With every row ignored the loss is
// 0 and so is the gradient (PyTorch gives NaN; we give 0).
// Row kernels run one invocation per row (L is small for token classification); the 1-D grid is split
// over x/y (see splitGrid): row = (wid.y * nwg.x + wid.x) * 64 + lid.x.
//
// UNIFORMS: entry points read their parameters as `p_u[wid.z]` (always element 0: grids have one layer in
// z). Lavapipe inlines uniform values that feed branch conditions or loop bounds when they are loaded at
// constant offsets and compiles a new shader variant for every new set of values (here: every new row
// count); the dynamic index keeps one compiled shader for all shapes.

struct Params {
  n: u32,       // rows N (elements N·L for ce_backward)
  l: u32,       // labels L (row length)
  ignore: i32,  // the ignore index (-100)
  pad: u32,     // (size 16: uniform array elements are 16-byte multiples)
}

// ---- ce_rows: per-row loss terms and the row's (max, log-sum-exp of x - max) ---------------------------
// Keeping the max apart from log(sum) keeps x - max exact, so probabilities stay accurate for logits as
// large as ±1e4 (a rounded lse = max + log(sum) would lose ~1e-3 absolute there).
@group(0) @binding(0) var<storage, read> logits: array<f32>;             // (N, L)
@group(0) @binding(1) var<storage, read> labels: array<i32>;             // (N)
@group(0) @binding(2) var<storage, read_write> row_loss: array<f32>;     // (N) -log_softmax[label], 0 if ignored
@group(0) @binding(3) var<storage, read_write> row_stats: array<vec2f>;  // (N, 2) max, log(sum exp(x - max))
@group(0) @binding(4) var<uniform> pr_u: array<Params, 2>; // element 0 (see UNIFORMS)

fn row_index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * 64u + lid.x;
}

@compute @workgroup_size(64)
fn ce_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let pr = pr_u[wid.z];
  let r = row_index(wid, nwg, lid);
  if (r >= pr.n) { return; }
  let base = r * pr.l;
  var m = logits[base];
  for (var c = 1u; c < pr.l; c++) { m = max(m, logits[base + c]); }
  var s = 0.0;
  for (var c = 0u; c < pr.l; c++) { s += exp(logits[base + c] - m); }
  let log_s = log(s);
  row_stats[r] = vec2f(m, log_s);
  let y = labels[r];
  if (y == pr.ignore) {
    row_loss[r] = 0.0;
  } else if (y < 0 || u32(y) >= pr.l) {
    row_loss[r] = bitcast<f32>(0x7fc00000u + min(pr.n, 0u)); // NaN (runtime value): invalid label
  } else {
    row_loss[r] = (m - logits[base + u32(y)]) + log_s;
  }
}

// ---- ce_mean: loss = sum(row_loss) / count (0 when count = 0), stats = (count) -------------------------
// One workgroup of 256 invocations; strided partial sums then a tree reduction (deterministic order).
@group(0) @binding(0) var<storage, read> m_row_loss: array<f32>; // (N)
@group(0) @binding(1) var<storage, read> m_labels: array<i32>;   // (N)
@group(0) @binding(2) var<storage, read_write> m_loss: array<f32>;  // (1) the mean loss
@group(0) @binding(3) var<storage, read_write> m_stats: array<f32>; // (1) count of non-ignored rows
@group(0) @binding(4) var<uniform> pm_u: array<Params, 2>; // element 0 (see UNIFORMS)

var<workgroup> red_sum: array<f32, 256>;
var<workgroup> red_cnt: array<f32, 256>;

@compute @workgroup_size(256)
fn ce_mean(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let pm = pm_u[wid.z];
  var s = 0.0;
  var c = 0.0;
  for (var r = lid.x; r < pm.n; r += 256u) {
    s += m_row_loss[r];
    if (m_labels[r] != pm.ignore) { c += 1.0; }
  }
  red_sum[lid.x] = s;
  red_cnt[lid.x] = c;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (lid.x < w) {
      red_sum[lid.x] += red_sum[lid.x + w];
      red_cnt[lid.x] += red_cnt[lid.x + w];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let count = red_cnt[0];
    m_loss[0] = select(0.0, red_sum[0] / count, count > 0.0);
    m_stats[0] = count;
  }
}

// ---- ce_backward: dlogits = (softmax - onehot(label)) * g / count, 0 on ignored/invalid rows -----------
@group(0) @binding(0) var<storage, read> b_logits: array<f32>; // (N, L)
@group(0) @binding(1) var<storage, read> b_labels: array<i32>; // (N)
@group(0) @binding(2) var<storage, read> b_stats_row: array<vec2f>; // (N, 2) saved by ce_rows
@group(0) @binding(3) var<storage, read> b_stats: array<f32>;  // (1) count, saved by ce_mean
@group(0) @binding(4) var<storage, read> b_grad: array<f32>;   // (1) d(loss)/d(mean loss)
@group(0) @binding(5) var<storage, read_write> b_out: array<f32>; // (N, L) d(loss)/d(logits)
@group(0) @binding(6) var<uniform> pb_u: array<Params, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(256)
fn ce_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let pb = pb_u[wid.z];
  let i = (wid.y * nwg.x + wid.x) * 256u + lid.x;
  if (i >= pb.n) { return; }
  let r = i / pb.l;
  let c = i - r * pb.l;
  let y = b_labels[r];
  if (y == pb.ignore || y < 0 || u32(y) >= pb.l) {
    b_out[i] = 0.0;
    return;
  }
  let st = b_stats_row[r];
  let p = exp((b_logits[i] - st.x) - st.y);
  let onehot = select(0.0, 1.0, u32(y) == c);
  b_out[i] = (p - onehot) * b_grad[0] / b_stats[0]; // count >= 1 here
}

// ---- softmax_rows: probabilities of each row (inference) ------------------------------------------------
@group(0) @binding(0) var<storage, read> s_logits: array<f32>;        // (N, L)
@group(0) @binding(1) var<storage, read_write> s_probs: array<f32>;   // (N, L)
@group(0) @binding(2) var<uniform> ps_u: array<Params, 2>; // element 0 (see UNIFORMS)

@compute @workgroup_size(64)
fn softmax_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid: vec3u) {
  let ps = ps_u[wid.z];
  let r = row_index(wid, nwg, lid);
  if (r >= ps.n) { return; }
  let base = r * ps.l;
  var m = s_logits[base];
  for (var c = 1u; c < ps.l; c++) { m = max(m, s_logits[base + c]); }
  var s = 0.0;
  for (var c = 0u; c < ps.l; c++) { s += exp(s_logits[base + c] - m); }
  let inv = 1.0 / s;
  for (var c = 0u; c < ps.l; c++) { s_probs[base + c] = exp(s_logits[base + c] - m) * inv; }
}
