/**
 * The MPI process group: MPICH's `libmpich.so.12` (Debian's `mpich` package) bound through Deno's FFI.
 *
 * Why MPICH: its ABI uses plain integer handles (`MPI_Comm`, `MPI_Datatype`, `MPI_Op` are `int`, e.g.
 * `MPI_COMM_WORLD = 0x44000000`), stable since MPICH 3.1 and shared by Intel MPI and MVAPICH, so the
 * binding needs no C shim and no struct layouts (Open MPI's handles are pointers to globals).
 *
 * Threads and the timeout: MPI is initialised with `MPI_Init_thread(MPI_THREAD_MULTIPLE)` and every
 * collective is declared `nonblocking` for Deno, which runs the blocking C call on a worker thread and
 * returns a promise. The JavaScript thread stays free meanwhile — to encode GPU work (overlapping the
 * next bucket's readback with this bucket's all-reduce) and to run a timer: a collective that has not
 * returned after the timeout prints the rank and the call and calls `MPI_Abort`, which ends every rank.
 * (MPI's own non-blocking collectives would need a JS polling loop, since MPICH progresses only inside MPI
 * calls.) Collectives are issued one at a time, in program order, through a queue: MPI requires every
 * rank to issue collectives on a communicator in the same order, which concurrent threads would break.
 * Errors return codes (`MPI_ERRORS_RETURN`) that become {@link MpiError}s naming the call and the rank.
 * @module
 */
import { type CommArray, DEFAULT_LIBMPI, type ProcessGroup, type ReduceOp } from "./group.ts";

const MPI_COMM_WORLD = 0x44000000;
const MPI_ERRORS_RETURN = 0x54000001;
const MPI_THREAD_MULTIPLE = 3;
const MPI_MAX_ERROR_STRING = 512;
const _OPS: Record<ReduceOp, number> = { max: 0x58000001, min: 0x58000002, sum: 0x58000003 };
/** `MPI_IN_PLACE` is `(void *) -1`; passed as an integer so no pointer object (full --allow-ffi) is needed. */
const _IN_PLACE = 0xffffffffffffffffn;

const _SYMBOLS = {
  MPI_Init_thread: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  MPI_Initialized: { parameters: ["buffer"], result: "i32" },
  MPI_Comm_rank: { parameters: ["i32", "buffer"], result: "i32" },
  MPI_Comm_size: { parameters: ["i32", "buffer"], result: "i32" },
  MPI_Comm_set_errhandler: { parameters: ["i32", "i32"], result: "i32" },
  MPI_Error_string: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  MPI_Get_processor_name: { parameters: ["buffer", "buffer"], result: "i32" },
  MPI_Allreduce: {
    parameters: ["u64", "buffer", "i32", "i32", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  MPI_Bcast: { parameters: ["buffer", "i32", "i32", "i32", "i32"], result: "i32", nonblocking: true },
  MPI_Allgather: {
    parameters: ["buffer", "i32", "i32", "buffer", "i32", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  MPI_Allgatherv: {
    parameters: ["buffer", "i32", "i32", "buffer", "buffer", "buffer", "i32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  MPI_Barrier: { parameters: ["i32"], result: "i32", nonblocking: true },
  MPI_Abort: { parameters: ["i32", "i32"], result: "i32" },
  MPI_Finalize: { parameters: [], result: "i32" },
} as const;

type _Lib = Deno.DynamicLibrary<typeof _SYMBOLS>;

/** An MPI call failed; the message names the call, the rank and MPI's error string. */
export class MpiError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "MpiError";
  }
}

function _datatype(a: CommArray): number {
  if (a instanceof Float32Array) return 0x4c00040a; // MPI_FLOAT
  if (a instanceof Float64Array) return 0x4c00080b; // MPI_DOUBLE
  if (a instanceof Int32Array) return 0x4c000405; // MPI_INT
  if (a instanceof Uint32Array) return 0x4c000406; // MPI_UNSIGNED
  return 0x4c00010d; // MPI_BYTE
}

/**
 * Makes sure `arrays` live in off-heap (fixed) memory before a worker thread writes into them: V8 keeps
 * small typed arrays inside the JS heap, where a garbage collection during the call could move them.
 * Reading `.buffer` moves such an array's data into a fixed backing store.
 */
function _pin(...arrays: ArrayBufferView[]): void {
  for (const a of arrays) void a.buffer;
}

function _count(call: string, a: CommArray): number {
  if (a.length > 0x7fffffff) throw new RangeError(`${call}: ${a.length} elements exceed MPI's int count`);
  return a.length;
}

/** Options of {@link MpiGroup.init}. */
export interface MpiInitOptions {
  /** Seconds a collective may wait before `MPI_Abort` ends the job. */
  timeoutSeconds: number;
  /** Path of libmpich (default {@link DEFAULT_LIBMPI}). */
  library?: string;
  /** Rank on this host, from the launcher. */
  localRank?: number;
  /**
   * The launcher's folder (`WEBGPU_NER_LAUNCH_DIR`): {@link MpiGroup.abort} also writes its message there,
   * because mpiexec may kill the rank's output forwarding before the last stderr line gets through.
   */
  launchDir?: string;
}

let _active: MpiGroup | null = null;

/** The MPI_COMM_WORLD process group. */
export class MpiGroup implements ProcessGroup {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly backend: string;
  /** Seconds a collective may wait. */
  readonly timeoutSeconds: number;
  #lib: _Lib;
  #tail: Promise<unknown> = Promise.resolve();
  #finalized = false;
  #launchDir: string | undefined;

  private constructor(
    lib: _Lib,
    rank: number,
    size: number,
    localRank: number,
    timeoutSeconds: number,
    launchDir?: string,
  ) {
    this.#lib = lib;
    this.#launchDir = launchDir;
    this.rank = rank;
    this.size = size;
    this.localRank = localRank;
    this.timeoutSeconds = timeoutSeconds;
    this.backend = `mpi (MPICH, ${size} processes)`;
  }

  /** Loads libmpich, initialises MPI (once per process) and returns the world group. */
  static init(opts: MpiInitOptions): MpiGroup {
    if (_active) return _active;
    const path = opts.library ?? DEFAULT_LIBMPI;
    let lib: _Lib;
    try {
      lib = Deno.dlopen(path, _SYMBOLS);
    } catch (e) {
      const why = e instanceof Deno.errors.NotCapable || e instanceof Deno.errors.PermissionDenied
        ? "this process lacks --allow-ffi; start multi-process runs with `deno task launch`"
        : `${(e as Error).message}; install MPICH ('apt-get install mpich') or set WEBGPU_NER_LIBMPI`;
      throw new MpiError(`cannot load the MPI library ${path}: ${why}`);
    }
    const provided = new Int32Array(1);
    const flag = new Int32Array(1);
    lib.symbols.MPI_Initialized(flag);
    if (!flag[0]) {
      const rc = lib.symbols.MPI_Init_thread(null, null, MPI_THREAD_MULTIPLE, provided);
      if (rc !== 0) throw new MpiError(`MPI_Init_thread failed with code ${rc}`);
      if (provided[0] < MPI_THREAD_MULTIPLE) {
        throw new MpiError(
          `MPI_Init_thread: the MPI library provides thread level ${provided[0]}, ` +
            `MPI_THREAD_MULTIPLE (3) is needed`,
        );
      }
    }
    lib.symbols.MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    const r = new Int32Array(1), s = new Int32Array(1);
    lib.symbols.MPI_Comm_rank(MPI_COMM_WORLD, r);
    lib.symbols.MPI_Comm_size(MPI_COMM_WORLD, s);
    _active = new MpiGroup(lib, r[0], s[0], opts.localRank ?? r[0], opts.timeoutSeconds, opts.launchDir);
    return _active;
  }

  /** The host name MPI reports for this rank. */
  processorName(): string {
    const buf = new Uint8Array(256), len = new Int32Array(1);
    this.#lib.symbols.MPI_Get_processor_name(buf, len);
    return new TextDecoder().decode(buf.subarray(0, len[0]));
  }

  #errorString(code: number): string {
    const buf = new Uint8Array(MPI_MAX_ERROR_STRING), len = new Int32Array(1);
    if (this.#lib.symbols.MPI_Error_string(code, buf, len) !== 0) return `error code ${code}`;
    return new TextDecoder().decode(buf.subarray(0, len[0]));
  }

  /** Runs one collective after the previous ones, with the timeout; turns a bad return code into an error. */
  #run(call: string, what: string, start: () => Promise<number>): Promise<void> {
    if (this.#finalized) {
      return Promise.reject(new MpiError(`${call} after MPI_Finalize on rank ${this.rank}`));
    }
    const run = async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>(() => {
        timer = setTimeout(() => {
          this.abort(
            `rank ${this.rank}: ${call} (${what}) did not complete within ${this.timeoutSeconds} s: ` +
              `another rank died or hangs; aborting the job`,
            70,
          );
        }, this.timeoutSeconds * 1000);
      });
      try {
        const rc = await Promise.race([start(), timeout]);
        if (rc !== 0) {
          throw new MpiError(`${call} (${what}) failed on rank ${this.rank}: ${this.#errorString(rc)}`);
        }
      } finally {
        clearTimeout(timer);
      }
    };
    const p = this.#tail.then(run, run);
    this.#tail = p.catch(() => {});
    return p;
  }

  /** In-place all-reduce (`MPI_Allreduce` with `MPI_IN_PLACE`). */
  allReduce(data: CommArray, op: ReduceOp = "sum"): Promise<void> {
    const n = _count("MPI_Allreduce", data);
    return this.#run(
      "MPI_Allreduce",
      `${n} × ${data.constructor.name}, ${op}`,
      () => {
        _pin(data);
        return this.#lib.symbols.MPI_Allreduce(_IN_PLACE, data, n, _datatype(data), _OPS[op], MPI_COMM_WORLD);
      },
    );
  }

  /** `MPI_Bcast` from `root`. */
  broadcast(data: CommArray, root = 0): Promise<void> {
    if (!(root >= 0 && root < this.size)) throw new RangeError(`MPI_Bcast: root ${root} out of range`);
    const n = _count("MPI_Bcast", data);
    return this.#run(
      "MPI_Bcast",
      `${n} × ${data.constructor.name} from rank ${root}`,
      () => {
        _pin(data);
        return this.#lib.symbols.MPI_Bcast(data, n, _datatype(data), root, MPI_COMM_WORLD);
      },
    );
  }

  /** `MPI_Allgather` of equal-length arrays. */
  async allGather<T extends CommArray>(data: T): Promise<T> {
    const n = _count("MPI_Allgather", data);
    const out = new (data.constructor as new (n: number) => T)(n * this.size);
    const t = _datatype(data);
    await this.#run(
      "MPI_Allgather",
      `${n} × ${data.constructor.name} per rank`,
      () => {
        _pin(data, out);
        return this.#lib.symbols.MPI_Allgather(data, n, t, out, n, t, MPI_COMM_WORLD);
      },
    );
    return out;
  }

  /** `MPI_Allgather` of the lengths, then `MPI_Allgatherv`. */
  async allGatherV<T extends CommArray>(data: T): Promise<{ data: T; counts: number[] }> {
    const n = _count("MPI_Allgatherv", data);
    const counts = await this.allGather(Int32Array.of(n));
    const displs = new Int32Array(this.size);
    let total = 0;
    counts.forEach((c, i) => {
      displs[i] = total;
      total += c;
    });
    const out = new (data.constructor as new (n: number) => T)(total);
    const t = _datatype(data);
    // A zero-length typed array may have no backing store; give MPI a valid pointer either way.
    const send = n ? data : new (data.constructor as new (n: number) => T)(1);
    const recv = total ? out : new (data.constructor as new (n: number) => T)(1);
    await this.#run(
      "MPI_Allgatherv",
      `${n} × ${data.constructor.name} from this rank, ${total} in all`,
      () => {
        _pin(send, recv, counts, displs);
        return this.#lib.symbols.MPI_Allgatherv(send, n, t, recv, counts, displs, t, MPI_COMM_WORLD);
      },
    );
    return { data: out, counts: [...counts] };
  }

  /** `MPI_Barrier`. */
  barrier(): Promise<void> {
    return this.#run("MPI_Barrier", "all ranks", () => this.#lib.symbols.MPI_Barrier(MPI_COMM_WORLD));
  }

  /** Prints the message and calls `MPI_Abort`, which ends every rank of the job. */
  abort(message: string, code = 1): never {
    console.error(message);
    if (this.#launchDir) {
      try {
        Deno.writeTextFileSync(`${this.#launchDir}/abort-${this.rank}.txt`, message);
      } catch { /* the stderr line above is the fallback */ }
    }
    this.#lib.symbols.MPI_Abort(MPI_COMM_WORLD, code);
    Deno.exit(code); // MPI_Abort does not return; this is a safety net
  }

  /** `MPI_Finalize` after the queued collectives (call once at the end of the program). */
  finalize(): void {
    if (this.#finalized) return;
    this.#finalized = true;
    const rc = this.#lib.symbols.MPI_Finalize();
    if (rc !== 0) throw new MpiError(`MPI_Finalize failed on rank ${this.rank}: ${this.#errorString(rc)}`);
  }
}
