// Non-finite detection (NaN, +Inf, -Inf), decided on the bit pattern (exponent bits all ones) so no
// compiler can fold a NaN comparison away.
//
// Contract: `count_nonfinite` ADDS the number of non-finite elements of x[0..n) into counts[slot]
// (atomic; zero the counts first). `flag_nonfinite` WRITES `step` into counts[0] when counts[0] is 0 and
// any of x[0..n) is non-finite, so counts[0] keeps the first flagged step (0: none; steps are 1-based).
// `unscale_check` (torch's _amp_foreach_non_finite_check_and_unscale_, for the loss scaler) MULTIPLIES
// g[0..n) in place by inv_scale and ADDS the number of elements that were non-finite before the multiply
// into counts[slot]. One workgroup size for all; count_nonfinite and unscale_check run grid-stride loops.

struct Params {
  n: u32,     // elements of x to check
  slot: u32,  // counts[] entry to add into (count_nonfinite)
  step: u32,  // value to record (flag_nonfinite), > 0
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;                   // (n)
@group(0) @binding(1) var<storage, read_write> counts: array<atomic<u32>>; // (slots)
@group(0) @binding(2) var<uniform> p: Params;

fn nonfinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

@compute @workgroup_size(256)
fn count_nonfinite(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_id) lid: vec3u) {
  var bad = 0u;
  let stride = nwg.x * 256u;
  for (var i = wid.x * 256u + lid.x; i < p.n; i += stride) {
    if (nonfinite(x[i])) { bad += 1u; }
  }
  if (bad > 0u) { atomicAdd(&counts[p.slot], bad); }
}

var<workgroup> any_bad: atomic<u32>;

@compute @workgroup_size(256)
fn flag_nonfinite(@builtin(local_invocation_id) lid: vec3u) {
  var bad = 0u;
  for (var i = lid.x; i < p.n; i += 256u) {
    if (nonfinite(x[i])) { bad = 1u; }
  }
  if (bad > 0u) { atomicOr(&any_bad, 1u); }
  workgroupBarrier();
  if (lid.x == 0u && atomicLoad(&any_bad) > 0u) {
    loop { // a weak exchange may fail spuriously: retry until it succeeds or another step is recorded
      let r = atomicCompareExchangeWeak(&counts[0], 0u, p.step);
      if (r.exchanged || r.old_value != 0u) { break; }
    }
  }
}

struct UnscaleParams {
  n: u32,          // elements of g
  slot: u32,       // counts[] entry to add into
  inv_scale: f32,  // 1 / loss scale
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> ug: array<f32>;  // (n) a gradient, unscaled in place
@group(0) @binding(2) var<uniform> up: UnscaleParams;

@compute @workgroup_size(256)
fn unscale_check(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_id) lid: vec3u) {
  var bad = 0u;
  let stride = nwg.x * 256u;
  for (var i = wid.x * 256u + lid.x; i < up.n; i += stride) {
    let v = ug[i];
    if (nonfinite(v)) { bad += 1u; }
    ug[i] = v * up.inv_scale;
  }
  if (bad > 0u) { atomicAdd(&counts[up.slot], bad); }
}
