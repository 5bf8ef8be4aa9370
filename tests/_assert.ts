/**
 * Minimal assertions (Deno std lives on JSR, which these machines cannot reach).
 * @module
 */

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/**
 * Deep equality: numbers (and bigints) compare with `Object.is` semantics, so NaN equals NaN, +0 differs
 * from −0 and ±Infinity are themselves; arrays and typed arrays element by element (an array never equals
 * a typed array, nor typed arrays of different kinds); Maps and Sets by entries; plain objects by their
 * own keys (keys whose value is `undefined` are ignored, as JSON does).
 */
export function equal(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof b === "number") return Object.is(a, b);
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>, y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!equal(x[i], y[i])) return false;
    return true;
  }
  if (Array.isArray(a)) {
    const y = b as unknown[];
    return a.length === y.length && a.every((v, i) => equal(v, y[i]));
  }
  if (a instanceof Map) {
    const y = b as Map<unknown, unknown>;
    return a.size === y.size && [...a].every(([k, v]) => y.has(k) && equal(v, y.get(k)));
  }
  if (a instanceof Set) {
    const y = b as Set<unknown>;
    return a.size === y.size && [...a].every((v) => y.has(v));
  }
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    Object.hasOwn(b, k) && equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** A readable rendering for failure messages (keeps NaN, ±Infinity, −0, typed arrays, Maps). */
export function show(value: unknown): string {
  const seen = new Set<unknown>();
  const go = (v: unknown): string => {
    if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
    if (typeof v === "bigint") return `${v}n`;
    if (typeof v === "string") return JSON.stringify(v);
    if (typeof v !== "object" || v === null) return String(v);
    if (seen.has(v)) return "[circular]";
    seen.add(v);
    if (ArrayBuffer.isView(v)) {
      return `${v.constructor.name}[${Array.from(v as unknown as ArrayLike<unknown>, go).join(",")}]`;
    }
    if (Array.isArray(v)) return `[${v.map(go).join(",")}]`;
    if (v instanceof Map) return `Map{${[...v].map(([k, x]) => `${go(k)}=>${go(x)}`).join(",")}}`;
    if (v instanceof Set) return `Set{${[...v].map(go).join(",")}}`;
    return `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${go(x)}`).join(",")}}`;
  };
  return go(value);
}

/** Throws unless `actual` and `expected` are deeply {@link equal} (Object.is for numbers). */
export function assertEquals(actual: unknown, expected: unknown, msg = ""): void {
  if (!equal(actual, expected)) {
    throw new Error(`${msg ? msg + ": " : ""}expected ${show(expected)}, got ${show(actual)}`);
  }
}

/** Asserts `fn` throws an instance of `cls` whose message includes `includes`; returns the error. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  cls: new (...a: never[]) => E = Error as unknown as new (...a: never[]) => E,
  includes = "",
): E {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${e}`);
    if (!e.message.includes(includes)) throw new Error(`error "${e.message}" lacks "${includes}"`);
    return e;
  }
  throw new Error("expected an exception");
}

/** Async version of {@link assertThrows}. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  cls: new (...a: never[]) => E = Error as unknown as new (...a: never[]) => E,
  includes = "",
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${e}`);
    if (!e.message.includes(includes)) throw new Error(`error "${e.message}" lacks "${includes}"`);
    return e;
  }
  throw new Error("expected a rejection");
}
