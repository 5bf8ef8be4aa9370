/**
 * Python-style "show each warning once": a message is printed with `console.warn` the first time it is
 * issued in the process, and silently dropped after that.
 * @module
 */

const _seen = new Set<string>();

/** Prints `message` with `console.warn` unless the same text was already printed in this process. */
export function warnOnce(message: string): void {
  if (_seen.has(message)) return;
  _seen.add(message);
  console.warn(message);
}

/** Forgets which warnings were printed, so each will be printed once more (for tests and long runs). */
export function resetWarnings(): void {
  _seen.clear();
}
