/**
 * The command-line side of the profiler: `--profile` (print the table on stderr when the run ends) and
 * `--profile-trace FILE` (also write a Chrome trace JSON), shared by train, predict and the benches.
 * @module
 */
import { type ProfileReport, profiling, startProfiling, stopProfiling } from "./profiler.ts";

/** What {@link profileFromArgs} returns. */
export interface ProfileSwitch {
  /** True when `--profile` or `--profile-trace` was given. */
  enabled: boolean;
  /** The arguments without the profiler's flags (to pass on to another parser). */
  rest: string[];
  /** Starts recording now (no-op when disabled). */
  start(): void;
  /** Records only while `fn` runs (starts, awaits `fn`, leaves the profile open for {@link finish}). */
  around<T>(fn: () => Promise<T> | T): Promise<T>;
  /** Stops recording, prints the table on stderr and writes the trace; returns the report (or null). */
  finish(steps?: number): Promise<ProfileReport | null>;
}

/**
 * Takes `--profile` and `--profile-trace FILE` (or `--profile-trace=FILE`) out of `args`. The returned
 * switch starts and stops the profiler and prints its table.
 */
export function profileFromArgs(args: string[], print: (s: string) => void = console.error): ProfileSwitch {
  const rest: string[] = [];
  let enabled = false;
  let trace = "";
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--profile") enabled = true;
    else if (a === "--profile-trace") {
      const v = args[++i];
      if (!v || v.startsWith("--")) throw new Error("--profile-trace: expected a file name after it");
      trace = v;
      enabled = true;
    } else if (a.startsWith("--profile-trace=")) {
      trace = a.slice("--profile-trace=".length);
      enabled = true;
    } else rest.push(a);
  }
  let stopped = false;
  const sw: ProfileSwitch = {
    enabled,
    rest,
    start() {
      if (enabled && !profiling() && !stopped) startProfiling();
    },
    async around(fn) {
      sw.start();
      return await fn();
    },
    async finish(steps = 1) {
      if (!enabled || !profiling()) return null;
      stopped = true;
      const report = await stopProfiling();
      print(report.table({ steps }));
      if (trace) {
        await Deno.writeTextFile(trace, JSON.stringify(report.chromeTrace()));
        print(`profile: Chrome trace written to ${trace} (open in chrome://tracing or ui.perfetto.dev)`);
      }
      return report;
    },
  };
  return sw;
}
