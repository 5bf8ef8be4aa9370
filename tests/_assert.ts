/**
 * Minimal assertions (Deno std lives on JSR, which these machines cannot reach).
 * @module
 */

/** Throws unless `cond` is truthy. */
export function assert(cond: unknown, msg = "assertion failed"): asserts cond {
  if (!cond) throw new Error(msg);
}

/** Deep equality through JSON (enough for numbers, strings, arrays and plain objects). */
export function assertEquals(actual: unknown, expected: unknown, msg = ""): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${msg ? msg + ": " : ""}expected ${e}, got ${a}`);
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
