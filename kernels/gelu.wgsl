// Exact GELU, as HF's "gelu" / torch.nn.functional.gelu(approximate="none"):
//   gelu(x) = x · Φ(x) = 0.5 · x · (1 + erf(x / √2))
//   d gelu / dx = Φ(x) + x · φ(x),   φ(x) = exp(-x² / 2) / √(2π)
// WGSL has no erf, so this file carries its own (see erf4): two fitted approximations, coefficients
// fitted for this project (minimax in float64 by Lawson iterations):
//   |z| < 1:  erf(z) = z + z · P(z²)                 P of degree 6, max relative error of the fit 1.2e-9
//   |z| >= 1: erfc(|z|) = exp(-z²) · t · Q(t), t = 1 / (1 + |z|/2)
//                                                    Q of degree 8, max relative error of the fit 2.3e-9
//                                                    on 1 <= |z| <= 10 (and erfc underflows to 0 beyond)
// Evaluated in f32 on lavapipe, the max |erf4(z) - erf(z)| over [-10, 10] is ~1e-7 (≈ 1 ulp near 1),
// measured against a float64 erf in tests/ops/gelu_test.ts. Φ uses erfc directly in the lower tail, so
// gelu(x) keeps its relative accuracy for very negative x instead of rounding 1 + erf to 0.
//
// Contract: every entry point OVERWRITES its output. Elements are processed four at a time: the host binds
// every buffer rounded up to 16 bytes (pool buffers are 256-byte multiples), so the last vec4 may read
// and write a few padding elements past n, which belong to the same buffers and are never observed.
// The 1-D grid is split over x/y (see splitGrid): vec4 index = (wid.y * nwg.x + wid.x) * 256 + lid.x.

struct Params {
  n4: u32, // number of vec4 groups, ceil(n / 4)
}

// forward / erf_eval: x (n) -> y (n)
@group(0) @binding(0) var<storage, read> x1: array<vec4f>;        // (n)
@group(0) @binding(1) var<storage, read_write> y1: array<vec4f>;  // (n)
@group(0) @binding(2) var<uniform> p1: Params;

// backward: dy (n), x (n) -> dx (n)
@group(0) @binding(0) var<storage, read> dy2: array<vec4f>;       // (n)
@group(0) @binding(1) var<storage, read> x2: array<vec4f>;        // (n)
@group(0) @binding(2) var<storage, read_write> dx2: array<vec4f>; // (n)
@group(0) @binding(3) var<uniform> p2: Params;

// ---- GELU math (src/ops/gelu.ts also appends this section to matmul.wgsl for the fused linear + GELU) ----
const FRAC_1_SQRT_2: f32 = 0.70710678118654752;
const FRAC_1_SQRT_2PI: f32 = 0.39894228040143268;

// erf(z) - z for |z| < 1, as z · P(z²) (P's constant term is 2/√π - 1).
fn erf_small_minus_z(z: vec4f) -> vec4f {
  let u = z * z;
  var p = vec4f(7.889142406e-05);
  p = p * u - 8.020848767e-04;
  p = p * u + 5.189536279e-03;
  p = p * u - 2.685444516e-02;
  p = p * u + 1.128360019e-01;
  p = p * u - 3.761262714e-01;
  p = p * u + 1.283791659e-01;
  return z * p;
}

// erfc(a) for a >= 1 (callers clamp a to >= 1 in lanes that use the small-argument branch).
fn erfc_large(a: vec4f) -> vec4f {
  let t = 1.0 / (1.0 + 0.5 * a);
  var q = vec4f(-3.929136797e-02);
  q = q * t + 2.234508535e-01;
  q = q * t - 4.093605799e-01;
  q = q * t + 2.256701672e-01;
  q = q * t - 6.864465933e-03;
  q = q * t + 1.986952606e-01;
  q = q * t + 2.434364503e-01;
  q = q * t + 2.823839354e-01;
  q = q * t + 2.820842318e-01;
  return exp(-(a * a)) * t * q;
}

// erf(z), max abs error ~1e-7 in f32.
fn erf4(z: vec4f) -> vec4f {
  let a = abs(z);
  let small = z + erf_small_minus_z(z);
  let large = sign(z) * (1.0 - erfc_large(max(a, vec4f(1.0))));
  return select(large, small, a < vec4f(1.0));
}

// Φ(x) = P(N(0,1) <= x): 0.5 + 0.5·erf(x/√2) near 0, 1 - erfc/2 above, erfc/2 below (no cancellation).
fn norm_cdf4(x: vec4f) -> vec4f {
  let z = x * FRAC_1_SQRT_2;
  let a = abs(z);
  let small = 0.5 + 0.5 * (z + erf_small_minus_z(z));
  let tail = 0.5 * erfc_large(max(a, vec4f(1.0)));
  let large = select(tail, 1.0 - tail, z > vec4f(0.0));
  return select(large, small, a < vec4f(1.0));
}

// ---- end of GELU math ----

fn index(wid: vec3u, nwg: vec3u, lid: vec3u) -> u32 {
  return (wid.y * nwg.x + wid.x) * 256u + lid.x;
}

// y = x · Φ(x)
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_id) lid: vec3u) {
  let i = index(wid, nwg, lid);
  if (i >= p1.n4) { return; }
  let x = x1[i];
  y1[i] = x * norm_cdf4(x);
}

// dx = dy · (Φ(x) + x · φ(x))
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = index(wid, nwg, lid);
  if (i >= p2.n4) { return; }
  let x = x2[i];
  let pdf = FRAC_1_SQRT_2PI * exp(-0.5 * x * x);
  dx2[i] = dy2[i] * (norm_cdf4(x) + x * pdf);
}

// y = erf(x) (the approximation above, exposed so its accuracy can be measured)
@compute @workgroup_size(256)
fn erf_eval(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let i = index(wid, nwg, lid);
  if (i >= p1.n4) { return; }
  y1[i] = erf4(x1[i]);
}
