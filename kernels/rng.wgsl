// Counter-based random numbers shared by dropout kernels (prepended to their source): the same
// (seed, index) always gives the same value, so a backward pass regenerates the forward's mask instead of
// storing it. A 32-bit integer hash (lowbias32 by Chris Wellons) of the index mixed with the seed.
// Contract: pure functions, no bindings.

fn rng_hash(x_in: u32) -> u32 {
  var x = x_in;
  x ^= x >> 16u;
  x *= 0x7feb352du;
  x ^= x >> 15u;
  x *= 0x846ca68bu;
  x ^= x >> 16u;
  return x;
}

// Uniform in [0, 1) with 24 bits of resolution for element `idx` of stream `seed`.
fn rng_uniform(seed: u32, idx: u32) -> f32 {
  let h = rng_hash(idx ^ rng_hash(seed));
  return f32(h >> 8u) * (1.0 / 16777216.0);
}
