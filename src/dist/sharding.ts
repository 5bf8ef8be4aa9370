/**
 * How a data loader is split across processes, as 🤗 Accelerate's `BatchSamplerShard` does by default
 * (`split_batches=False`, `even_batches=True`): the epoch's global order (the same shuffle on every rank)
 * is cut into batches of the per-device size; batch `j` goes to rank `j % numProcesses`; when the batches
 * do not fill whole rounds, the order wraps around to its start so every rank gets the same number of
 * full batches. With one process the loader is unchanged (last batch may be short, nothing repeated).
 * @module
 */

/** Batches (example indices) of one epoch for all ranks, round-robin: entry `j` belongs to rank `j % size`. */
export function evenBatches(order: Int32Array, batchSize: number, numProcesses: number): Int32Array[] {
  const n = order.length;
  const out: Int32Array[] = [];
  if (n === 0) return out;
  if (numProcesses === 1) {
    for (let s = 0; s < n; s += batchSize) out.push(order.slice(s, Math.min(n, s + batchSize)));
    return out;
  }
  const round = batchSize * numProcesses;
  const total = Math.ceil(n / round) * round;
  for (let s = 0; s < total; s += batchSize) {
    out.push(Int32Array.from({ length: batchSize }, (_, i) => order[(s + i) % n]));
  }
  return out;
}

/** The batches of `rank` among {@link evenBatches}' round-robin list. */
export function rankBatches(all: readonly Int32Array[], rank: number, numProcesses: number): Int32Array[] {
  return all.filter((_, j) => j % numProcesses === rank);
}
