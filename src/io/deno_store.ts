/**
 * Deno's file system as a {@link FileStore}: the default store of the Trainer and `savePretrained` where
 * Deno exists. Folder and multi-file writes keep the crash-safe paths of `./atomic.ts` (temporary folder,
 * fsync, rename) and `./staged_write.ts` (staged, fsynced, renamed in), so Deno's files are the same as
 * without the seam. Nothing here touches `Deno` at import time.
 * @module
 */
import { writeDirAtomic } from "./atomic.ts";
import { dirname } from "./path.ts";
import { writeFilesStaged } from "./staged_write.ts";
import { type FileStore, fileStore, hasDeno } from "./storage.ts";

/** Deno's file system behind the {@link FileStore} interface (parent folders are created on write). */
export class DenoFileStore implements FileStore {
  /** `Deno.readFile` (its errors unchanged). */
  readFile(path: string): Promise<Uint8Array> {
    return Deno.readFile(path);
  }

  /** Creates or replaces a file, creating its folder. */
  async writeFile(path: string, data: Uint8Array): Promise<void> {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, data);
  }

  /** Appends to a file (created, with its folder, when missing). */
  async appendFile(path: string, data: Uint8Array): Promise<void> {
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, data, { append: true });
  }

  /** Whether a file (not a folder) exists. */
  async exists(path: string): Promise<boolean> {
    try {
      return (await Deno.stat(path)).isFile;
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    }
  }

  /** Names of the entries of a folder, sorted (`[]` when it does not exist). */
  async list(dir: string): Promise<string[]> {
    try {
      return (await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return [];
      throw e;
    }
  }

  /** `Deno.remove(path, { recursive: true })`; a missing path is not an error. */
  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path, { recursive: true });
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  /** `Deno.rename` (atomic within a file system). */
  rename(from: string, to: string): Promise<void> {
    return Deno.rename(from, to);
  }

  /** The folder written atomically by `writeDirAtomic` (temporary folder, fsync, rename). */
  writeDirAtomic(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
    return writeDirAtomic(dir, files);
  }

  /** Files written all or nothing by `writeFilesStaged` (staged, fsynced, renamed in). */
  writeFilesStaged(dir: string, files: Record<string, Uint8Array | string>): Promise<void> {
    return writeFilesStaged(dir, files);
  }
}

let _deno: DenoFileStore | undefined;

/** True for Deno's file-system store (whose paths are ordinary local paths). */
export function isDenoStore(store: FileStore | undefined): store is DenoFileStore {
  return store instanceof DenoFileStore;
}

/** Where writes go by default: Deno's file system where Deno exists, else the current {@link fileStore}. */
export function defaultStore(): FileStore {
  return hasDeno() ? (_deno ??= new DenoFileStore()) : fileStore();
}
