/**
 * Which kernels ran: a trace of the labels of the kernels encoded while a function runs (tests assert
 * that the fast paths — `matmul.mm_tex*`, `attention.attn_*64` — really ran), and visible fallbacks: an op
 * whose fast path cannot take a shape counts it here and warns once per op, instead of silently running
 * the generic kernel.
 * @module
 */

let _sink: string[] | null = null;
const _fallbacks = new Map<string, number>();
const _warned = new Set<string>();

/** Called by `Gpu.dispatch` for every kernel encoded. */
export function recordDispatch(label: string): void {
  _sink?.push(label);
}

/** Runs `fn` and returns the labels of the kernels it encoded, in order (nested traces share a sink). */
export async function traceDispatches<T>(fn: () => T | Promise<T>): Promise<{ result: T; labels: string[] }> {
  const outer = _sink;
  const labels: string[] = [];
  _sink = labels;
  try {
    const result = await fn();
    return { result, labels };
  } finally {
    outer?.push(...labels);
    _sink = outer;
  }
}

/**
 * Records that `op`'s fast path could not take a launch and the generic kernel ran instead; warns once
 * per op (with the reason) on stderr.
 */
export function noteFallback(op: string, reason: string, warn: (line: string) => void = console.warn): void {
  _fallbacks.set(op, (_fallbacks.get(op) ?? 0) + 1);
  if (_warned.has(op)) return;
  _warned.add(op);
  warn(`webgpu-ner: ${op} fell back to its generic kernel (${reason}); later fallbacks are only counted`);
}

/** Fallbacks so far by op (see {@link noteFallback}). */
export function fallbackCounts(): Record<string, number> {
  return Object.fromEntries(_fallbacks);
}
