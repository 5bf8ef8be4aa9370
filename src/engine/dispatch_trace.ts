/**
 * Which kernels ran: a trace of the labels of the kernels encoded while a function runs (tests assert
 * that the fast paths — `matmul.mm_tex*`, `attention.attn_*64` — really ran), and visible fallbacks: an op
 * whose fast path cannot take a shape counts it here and warns once per op, instead of silently running
 * the generic kernel.
 * @module
 */

let _sink: string[] | null = null;
let _stagedSink: string[] | null = null;
const _fallbacks = new Map<string, number>();
const _warned = new Set<string>();

/**
 * Called by `Gpu.dispatch` for every kernel encoded. A kernel run with staged loads
 * (src/engine/staged_loads.ts) is labelled `KERNEL+staged`: it is traced as `KERNEL` and also listed in
 * the trace's `staged`.
 */
export function recordDispatch(label: string): void {
  if (label.endsWith("+staged")) {
    _stagedSink?.push(label);
    label = label.slice(0, -"+staged".length);
  }
  _sink?.push(label);
}

/**
 * Runs `fn` and returns the labels of the kernels it encoded, in order (nested traces share a sink), and
 * the full labels of those that ran with staged loads.
 */
export async function traceDispatches<T>(
  fn: () => T | Promise<T>,
): Promise<{ result: T; labels: string[]; staged: string[] }> {
  const outer = _sink, outerStaged = _stagedSink;
  const labels: string[] = [], staged: string[] = [];
  _sink = labels;
  _stagedSink = staged;
  try {
    const result = await fn();
    return { result, labels, staged };
  } finally {
    outer?.push(...labels);
    outerStaged?.push(...staged);
    _sink = outer;
    _stagedSink = outerStaged;
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
