/**
 * The process group behind data-parallel training: rank, size and the collectives (all-reduce, broadcast,
 * all-gather(v), barrier) on host typed arrays. {@link LocalGroup} is the single-process group (every
 * collective is the identity; nothing needs MPI); {@link initProcessGroup} returns it unless the process
 * was started by `mpiexec` with more than one process, and only then loads the MPI binding
 * (`src/dist/mpi.ts`, which needs `--allow-ffi`).
 * @module
 */

/** Debian's path of MPICH's shared library (package `mpich`). */
export const DEFAULT_LIBMPI = "/usr/lib/x86_64-linux-gnu/libmpich.so.12";

/** The typed arrays a collective moves (MPI_FLOAT, MPI_DOUBLE, MPI_INT, MPI_UNSIGNED, MPI_BYTE). */
export type CommArray = Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array;

/** Reduction operators. */
export type ReduceOp = "sum" | "max" | "min";

/** A group of cooperating processes (one per device). */
export interface ProcessGroup {
  /** This process's index, 0-based (HF `process_index`). */
  readonly rank: number;
  /** Number of processes (HF `num_processes`). */
  readonly size: number;
  /** Index among the processes on this host (HF `local_process_index`). */
  readonly localRank: number;
  /** What runs the collectives (`local` or `mpi …`). */
  readonly backend: string;
  /** Reduces `data` element-wise across ranks, in place (every rank gets the result). */
  allReduce(data: CommArray, op?: ReduceOp): Promise<void>;
  /** Copies `data` of rank `root` into `data` of every other rank (same length everywhere). */
  broadcast(data: CommArray, root?: number): Promise<void>;
  /** Concatenates every rank's `data` in rank order (same length on every rank). */
  allGather<T extends CommArray>(data: T): Promise<T>;
  /** Concatenates every rank's `data` in rank order (lengths may differ); also returns the lengths. */
  allGatherV<T extends CommArray>(data: T): Promise<{ data: T; counts: number[] }>;
  /** Waits until every rank has reached it. */
  barrier(): Promise<void>;
  /** Ends the whole job (every rank) with an error message; never returns. */
  abort(message: string, code?: number): never;
  /** Shuts the group down (MPI_Finalize); idempotent. */
  finalize(): void;
}

/** The single-process group: rank 0 of 1, every collective the identity. */
export class LocalGroup implements ProcessGroup {
  readonly rank = 0;
  readonly size = 1;
  readonly localRank = 0;
  readonly backend = "local";

  /** Identity. */
  allReduce(_data: CommArray, _op: ReduceOp = "sum"): Promise<void> {
    return Promise.resolve();
  }

  /** Identity. */
  broadcast(_data: CommArray, root = 0): Promise<void> {
    if (root !== 0) throw new RangeError(`broadcast: root ${root} out of range for 1 process`);
    return Promise.resolve();
  }

  /** A copy of `data`. */
  allGather<T extends CommArray>(data: T): Promise<T> {
    return Promise.resolve(data.slice() as T);
  }

  /** A copy of `data` and its length. */
  allGatherV<T extends CommArray>(data: T): Promise<{ data: T; counts: number[] }> {
    return Promise.resolve({ data: data.slice() as T, counts: [data.length] });
  }

  /** Identity. */
  barrier(): Promise<void> {
    return Promise.resolve();
  }

  /** Prints the message and exits. */
  abort(message: string, code = 1): never {
    console.error(message);
    Deno.exit(code);
  }

  /** Nothing to shut down. */
  finalize(): void {}
}

/** How this process was launched: by an MPI launcher (`mpiexec`) or not. */
export interface LaunchInfo {
  /** Rank from the launcher's environment (0 when not launched). */
  rank: number;
  /** Number of processes from the launcher's environment (1 when not launched). */
  size: number;
  /** Rank on this host. */
  localRank: number;
  /** True when the environment says an MPI launcher started this process. */
  underMpi: boolean;
}

function _env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env for this name: not launched by us
  }
}

/**
 * Reads the launcher's environment: MPICH/Hydra's `PMI_RANK`/`PMI_SIZE`/`MPI_LOCALRANKID` (Open MPI's
 * `OMPI_COMM_WORLD_*` are recognised too, though only MPICH's ABI is bound).
 */
export function detectLaunch(): LaunchInfo {
  const size = Number(_env("PMI_SIZE") ?? _env("OMPI_COMM_WORLD_SIZE") ?? "");
  const rank = Number(_env("PMI_RANK") ?? _env("OMPI_COMM_WORLD_RANK") ?? "");
  if (!Number.isInteger(size) || size < 1 || !Number.isInteger(rank)) {
    return { rank: 0, size: 1, localRank: 0, underMpi: false };
  }
  const local = Number(_env("MPI_LOCALRANKID") ?? _env("OMPI_COMM_WORLD_LOCAL_RANK") ?? rank);
  return { rank, size, localRank: Number.isInteger(local) ? local : rank, underMpi: true };
}

/** Options of {@link initProcessGroup}. */
export interface InitProcessGroupOptions {
  /** Seconds a collective may wait before the whole job is aborted (default: env or 1800, as PyTorch). */
  timeoutSeconds?: number;
  /** Path of libmpich (default: env `WEBGPU_NER_LIBMPI` or Debian's `libmpich.so.12`). */
  library?: string;
}

/** The collective timeout from `WEBGPU_NER_COLLECTIVE_TIMEOUT` (seconds), else 1800 (PyTorch's default). */
export function collectiveTimeoutSeconds(): number {
  const v = Number(_env("WEBGPU_NER_COLLECTIVE_TIMEOUT") ?? "");
  return v > 0 ? v : 1800;
}

/**
 * The process group of this process: {@link LocalGroup} unless launched by `mpiexec` with more than one
 * process, then the MPI group (loads libmpich through FFI; needs `--allow-ffi`, which `deno task launch`
 * grants). A plain single-process run never touches MPI.
 */
export async function initProcessGroup(opts: InitProcessGroupOptions = {}): Promise<ProcessGroup> {
  const info = detectLaunch();
  if (!info.underMpi || info.size === 1) return new LocalGroup();
  const { MpiGroup } = await import("./mpi.ts");
  const dir = _env("WEBGPU_NER_LAUNCH_DIR");
  const group = MpiGroup.init({
    timeoutSeconds: opts.timeoutSeconds ?? collectiveTimeoutSeconds(),
    library: opts.library ?? _env("WEBGPU_NER_LIBMPI"),
    localRank: info.localRank,
    launchDir: dir,
  });
  // Tell `deno task launch` which pid is which rank, so it can name a rank that dies.
  if (dir) {
    try {
      const me = { rank: group.rank, pid: Deno.pid, host: group.processorName() };
      Deno.writeTextFileSync(`${dir}/rank-${group.rank}.json`, JSON.stringify(me));
    } catch { /* informational only */ }
  }
  return group;
}
