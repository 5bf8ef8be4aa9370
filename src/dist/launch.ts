/**
 * `deno task launch`: like `accelerate launch`, starts a script (default `deno task train`) on N
 * processes with MPICH's `mpiexec`, with the train task's Deno permissions plus `--allow-ffi` for
 * libmpich only:
 *
 *   deno task launch --num-processes 2 -- --from-scratch --num-train-epochs 1
 *   deno task launch --num-processes 4 --hosts node1:2,node2:2 -- --model ./my-bert
 *   deno task launch --num-processes 2 --script examples/custom_loop.ts -- --train-samples 500
 *
 * Every rank must see the same files (same paths; a shared file system across hosts). When a rank dies
 * or a collective times out the job is stopped, and the launcher exits non-zero naming the rank.
 * @module
 */
import { DEFAULT_LIBMPI } from "./group.ts";

/** Parsed `deno task launch` options. */
export interface LaunchOptions {
  numProcesses: number;
  /** `-hosts` list for mpiexec (`h1,h2` or `h1:2,h2:2`), or null (this machine). */
  hosts: string | null;
  /** `-f` hostfile for mpiexec, or null. */
  hostfile: string | null;
  /** The script each rank runs (default: the train CLI). */
  script: string;
  /** Seconds a collective may wait before the job is aborted. */
  collectiveTimeout: number | null;
  /** The mpiexec binary. */
  mpiexec: string;
  /** libmpich path given to the ranks (and to --allow-ffi). */
  libmpi: string;
  /** Arguments after `--`, passed to the script. */
  scriptArgs: string[];
}

const _USAGE = `Usage: deno task launch --num-processes N [--hosts h1[:n],h2[:n] | --hostfile FILE]
                        [--script FILE] [--collective-timeout SECONDS] [--mpiexec PATH] -- <script args>

Runs FILE (default src/train/cli.ts, i.e. deno task train) on N processes with MPICH's mpiexec;
rank 0 writes checkpoints, logs and the final folder. Needs MPICH (apt-get install mpich).`;

/** Parses the launcher's own flags (before `--`). Throws with the usage text on a bad command line. */
export function parseLaunchArgs(argv: string[]): LaunchOptions {
  const dash = argv.indexOf("--");
  const own = dash >= 0 ? argv.slice(0, dash) : argv;
  const o: LaunchOptions = {
    numProcesses: 1,
    hosts: null,
    hostfile: null,
    script: new URL("../train/cli.ts", import.meta.url).pathname,
    collectiveTimeout: null,
    mpiexec: "mpiexec",
    libmpi: DEFAULT_LIBMPI,
    scriptArgs: dash >= 0 ? argv.slice(dash + 1) : [],
  };
  for (let i = 0; i < own.length; i++) {
    const eq = own[i].indexOf("=");
    const flag = eq > 0 ? own[i].slice(0, eq) : own[i];
    const value = () => {
      const v = eq > 0 ? own[i].slice(eq + 1) : own[++i];
      if (v === undefined || v === "") throw new Error(`${flag} needs a value\n\n${_USAGE}`);
      return v;
    };
    switch (flag) {
      case "--num-processes": {
        const n = Number(value());
        if (!Number.isInteger(n) || n < 1) {
          throw new Error(`--num-processes takes a positive integer\n\n${_USAGE}`);
        }
        o.numProcesses = n;
        break;
      }
      case "--hosts":
        o.hosts = value();
        break;
      case "--hostfile":
        o.hostfile = value();
        break;
      case "--script":
        o.script = value();
        break;
      case "--collective-timeout": {
        const s = Number(value());
        if (!(s > 0)) throw new Error(`--collective-timeout takes seconds > 0\n\n${_USAGE}`);
        o.collectiveTimeout = s;
        break;
      }
      case "--mpiexec":
        o.mpiexec = value();
        break;
      case "--libmpi":
        o.libmpi = value();
        break;
      case "-h":
      case "--help":
        throw new Error(_USAGE);
      default:
        throw new Error(`unknown launch argument '${own[i]}' (script arguments go after --)\n\n${_USAGE}`);
    }
  }
  return o;
}

/**
 * The Deno permission flags of `deno task train`, read from deno.json so they live in one place; the
 * flags are expanded by `sh` in the project folder, as `deno task` would (the task may compute a flag
 * with `$(…)`).
 */
export async function trainPermissions(): Promise<string[]> {
  const root = new URL("../../", import.meta.url);
  const cfg = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const task: string = cfg.tasks.train;
  const m = /deno run (.*?) src\/train\/cli\.ts/.exec(task);
  if (!m) throw new Error(`deno.json: cannot find the permissions of the train task in '${task}'`);
  const out = await new Deno.Command("sh", {
    args: ["-c", `printf '%s\\n' ${m[1]}`],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`cannot expand the train task's permissions: ${m[1]}`);
  return new TextDecoder().decode(out.stdout).split("\n").filter((w) => w.startsWith("--allow-"));
}

/** The rank environment names a rank must read (added to `--allow-env`). */
export const RANK_ENV = [
  "PMI_RANK",
  "PMI_SIZE",
  "MPI_LOCALRANKID",
  "OMPI_COMM_WORLD_RANK",
  "OMPI_COMM_WORLD_SIZE",
  "OMPI_COMM_WORLD_LOCAL_RANK",
  "WEBGPU_NER_COLLECTIVE_TIMEOUT",
  "WEBGPU_NER_LIBMPI",
  "WEBGPU_NER_LAUNCH_DIR",
];

/** The mpiexec command line for `o` (without running it). */
export function mpiexecCommand(o: LaunchOptions, permissions: string[], launchDir: string): string[] {
  const perms = permissions.map((p) => p.startsWith("--allow-env=") ? `${p},${RANK_ENV.join(",")}` : p);
  if (!perms.some((p) => p.startsWith("--allow-env"))) perms.push(`--allow-env=${RANK_ENV.join(",")}`);
  if (!perms.some((p) => p === "--allow-write" || p.startsWith("--allow-write="))) {
    perms.push(`--allow-write=${launchDir}`);
  }
  perms.push(`--allow-ffi=${o.libmpi}`);
  const cmd = [o.mpiexec, "-n", String(o.numProcesses)];
  if (o.hosts) cmd.push("-hosts", o.hosts);
  if (o.hostfile) cmd.push("-f", o.hostfile);
  cmd.push("-genv", "WEBGPU_NER_LIBMPI", o.libmpi, "-genv", "WEBGPU_NER_LAUNCH_DIR", launchDir);
  if (o.collectiveTimeout) cmd.push("-genv", "WEBGPU_NER_COLLECTIVE_TIMEOUT", String(o.collectiveTimeout));
  cmd.push(Deno.execPath(), "run", ...perms, o.script, ...o.scriptArgs);
  return cmd;
}

/** Ranks that registered in the launch folder: pid → {rank, host}. */
async function _ranksByPid(dir: string): Promise<Map<number, { rank: number; host: string }>> {
  const out = new Map<number, { rank: number; host: string }>();
  try {
    for await (const e of Deno.readDir(dir)) {
      if (!/^rank-\d+\.json$/.test(e.name)) continue;
      try {
        const r = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`));
        out.set(r.pid, { rank: r.rank, host: r.host });
      } catch { /* a rank that died while writing */ }
    }
  } catch { /* no folder */ }
  return out;
}

/** Messages ranks left in the launch folder when they aborted the job (`abort-<rank>.txt`), by rank. */
async function _abortMessages(dir: string): Promise<string[]> {
  const out: [number, string][] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      const m = /^abort-(\d+)\.txt$/.exec(e.name);
      if (!m) continue;
      try {
        out.push([Number(m[1]), (await Deno.readTextFile(`${dir}/${e.name}`)).trim()]);
      } catch { /* unreadable: the forwarded stderr is all there is */ }
    }
  } catch { /* no folder */ }
  return out.sort((a, b) => a[0] - b[0]).map(([, msg]) => msg).filter((msg) => msg);
}

/**
 * Explains a failed job from mpiexec's output: which rank died (and how) or which collective timed out.
 * `ranks` maps registered pids to ranks.
 */
export function explainFailure(
  output: string,
  ranks: Map<number, { rank: number; host: string }>,
): string | null {
  const timeout = /rank (\d+): (MPI_\w+) \(([^)]*)\) did not complete within ([\d.]+) s/.exec(output);
  const bad = /PID (\d+) RUNNING AT (\S+)\s*=\s*EXIT CODE: (\d+)/.exec(output);
  const describe = (code: number) =>
    code > 128 || code === 9 ? `was killed (exit code ${code})` : `exited with code ${code}`;
  const parts: string[] = [];
  if (bad) {
    const pid = Number(bad[1]), code = Number(bad[3]);
    const rank = ranks.get(pid)?.rank;
    const who = rank === undefined
      ? `a rank (pid ${pid} on ${bad[2]})`
      : `rank ${rank} (pid ${pid} on ${bad[2]})`;
    parts.push(`${who} ${describe(code)}; mpiexec stopped the other ranks`);
  }
  if (timeout) {
    parts.push(
      `rank ${timeout[1]} waited more than ${timeout[4]} s in ${timeout[2]} (${timeout[3]}): ` +
        `another rank died or hangs, so the job was aborted`,
    );
  }
  return parts.length ? parts.join("; ") : null;
}

/** Runs the launcher; returns the exit code (mpiexec's, non-zero when any rank failed). */
export async function main(argv: string[]): Promise<number> {
  let o: LaunchOptions;
  try {
    o = parseLaunchArgs(argv);
  } catch (e) {
    console.error(`launch: ${(e as Error).message}`);
    return 2;
  }
  const launchDir = await Deno.makeTempDir({ prefix: "webgpu-ner-launch-" });
  const cmd = mpiexecCommand(o, await trainPermissions(), launchDir);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" }).spawn();
  } catch (e) {
    console.error(
      `launch: cannot run ${o.mpiexec}: ${(e as Error).message}. Install MPICH ('apt-get install mpich') ` +
        `or pass --mpiexec PATH`,
    );
    return 1;
  }
  const onSigint = () => {/* mpiexec forwards Ctrl-C to the ranks; wait for it */};
  try {
    Deno.addSignalListener("SIGINT", onSigint);
  } catch { /* unsupported */ }
  // Both streams pass through; the last 64 KiB of each are kept to explain a failure (mpiexec prints
  // its BAD TERMINATION banner on stdout, the ranks' timeout messages go to stderr).
  const tails = ["", ""];
  const pump = async (stream: ReadableStream<Uint8Array>, out: typeof Deno.stdout, k: number) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      await out.write(chunk);
      tails[k] = (tails[k] + dec.decode(chunk, { stream: true })).slice(-65536);
    }
  };
  await Promise.all([pump(child.stdout, Deno.stdout, 0), pump(child.stderr, Deno.stderr, 1)]);
  const status = await child.status;
  try {
    Deno.removeSignalListener("SIGINT", onSigint);
  } catch { /* unsupported */ }
  const ranks = await _ranksByPid(launchDir);
  // mpiexec may tear down a rank's output forwarding before its last line arrives: repeat what an aborting
  // rank left in the folder unless the forwarded stderr already carried it.
  for (const msg of await _abortMessages(launchDir)) {
    if (tails[1].includes(msg)) continue;
    console.error(msg);
    tails[1] += `\n${msg}`;
  }
  const tail = tails.join("\n");
  await Deno.remove(launchDir, { recursive: true }).catch(() => {});
  if (status.code === 0) return 0;
  const why = explainFailure(tail, ranks);
  console.error(`launch: the job failed (mpiexec exit code ${status.code})${why ? `: ${why}` : ""}`);
  return status.code || 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
