/**
 * Writing a set of files into a folder that holds other things (the final model folder beside its
 * checkpoints) so that a failure part-way — disk full — changes none of them: every file is first
 * written and fsynced into `<dir>/.staged.tmp-<random>/`, and only when all are there are they renamed
 * into `dir` one by one (renames need no space, so a full disk cannot stop them half-way). On failure the
 * staging folder is removed; a kill leaves it behind as `*.tmp-*`, which `deno task train` removes at the
 * next start.
 * @module
 */
import { syncDir } from "./atomic.ts";

/** Options of {@link writeFilesStaged} (tests inject a failing writer). */
export interface StagedWriteOptions {
  write?: (path: string, data: Uint8Array) => Promise<void>;
}

async function _writeSynced(path: string, data: Uint8Array): Promise<void> {
  const f = await Deno.open(path, { write: true, create: true, truncate: true });
  try {
    let off = 0;
    while (off < data.length) off += await f.write(data.subarray(off));
    await f.sync();
  } finally {
    f.close();
  }
}

/** Writes `files` (name → content, names without folders) into `dir` all or nothing (see the module doc). */
export async function writeFilesStaged(
  dir: string,
  files: Record<string, Uint8Array | string>,
  opts: StagedWriteOptions = {},
): Promise<void> {
  const write = opts.write ?? _writeSynced;
  await Deno.mkdir(dir, { recursive: true });
  const stage = `${dir}/.staged.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(stage);
  try {
    for (const [name, data] of Object.entries(files)) {
      if (name.includes("/") || name.startsWith(".")) {
        throw new RangeError(`writeFilesStaged: bad name '${name}'`);
      }
      await write(`${stage}/${name}`, typeof data === "string" ? new TextEncoder().encode(data) : data);
    }
    await syncDir(stage);
    for (const name of Object.keys(files)) await Deno.rename(`${stage}/${name}`, `${dir}/${name}`);
    await syncDir(dir);
  } finally {
    await Deno.remove(stage, { recursive: true }).catch(() => {});
  }
}
