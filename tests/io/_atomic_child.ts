/**
 * Child process for the crash test: rewrites `path` forever with writeFileAtomic, each version `size`
 * bytes all equal to one value, and prints "writing <value>" before each write. The parent kills it
 * with SIGKILL at a random moment.
 * Usage: deno run --allow-read --allow-write _atomic_child.ts <path> <size>
 */
import { writeFileAtomic } from "../../src/io/atomic.ts";

const [path, sizeArg] = Deno.args;
const size = Number(sizeArg);
const out = new TextEncoder();
for (let i = 1;; i++) {
  const value = 1 + (i % 250);
  const data = new Uint8Array(size).fill(value);
  await Deno.stdout.write(out.encode(`writing ${value}\n`));
  await writeFileAtomic(path, data);
}
