/**
 * The profiler: like PyTorch's `torch.profiler`, it needs no change to the code it measures. While a
 * profile is active, `Gpu.dispatch` reports every kernel launch here (its label, the bytes it binds and,
 * where the op knows it, its FLOPs) and `Gpu` reports its host-side queue work (flushes, writes,
 * readbacks, sync waits).
 *
 * GPU time per kernel: when the device has `timestamp-query`, every dispatch runs in its own compute pass
 * with begin/end timestamp writes (a few µs of extra pass overhead each), resolved at each flush and read
 * back without blocking the work; the report says "GPU timestamps". Without the feature, each flushed
 * group of kernels is timed on the host from submit to `onSubmittedWorkDone` and the report lists groups
 * ("host timing of flushed groups"), since the time of one kernel inside a group cannot be known.
 *
 * Host time: the gap between one dispatch call returning and the next starting is JavaScript (op logic,
 * tensor allocation, tape recording); the time inside `dispatch` is encoding (bind group, uniforms).
 *
 *   const p = startProfiling(); …work…; const report = await stopProfiling(); console.log(report.table());
 * @module
 */

/** One kernel launch seen by the profiler. */
interface _Launch {
  label: string;
  /** Host ms (performance.now) when `dispatch` was entered / returned. */
  hostStart: number;
  hostEnd: number;
  /** GPU start/end in ms on the GPU clock (timestamp mode), else NaN. */
  gpuStart: number;
  gpuEnd: number;
  flops: number;
  bytes: number;
  group: number;
}

/** A host-side span (a flush, a write, a readback, a sync wait). */
interface _HostSpan {
  name: string;
  start: number;
  end: number;
}

/** A flushed group timed on the host (no timestamp-query). */
interface _Group {
  submit: number;
  done: number;
  kernels: number;
  labels: Map<string, number>;
}

/** One row of {@link ProfileReport.rows}: a kernel (label) or a host activity. */
export interface ProfileRow {
  /** Kernel label (`matmul.mm_tex4`) or host activity (`host: js between dispatches`). */
  name: string;
  /** Family: the label before the first dot, or `host`. */
  family: string;
  /** Launches (or host spans). */
  calls: number;
  /** Total milliseconds (GPU time for kernels in timestamp mode). */
  totalMs: number;
  /** Share of the profiled wall time, 0..100. */
  percent: number;
  /** GFLOP/s where the op reported its FLOPs, else NaN. */
  gflops: number;
  /** GB/s of the bytes the kernel binds (inputs + outputs), else NaN. */
  gbs: number;
}

/** What {@link stopProfiling} returns. */
export interface ProfileReport {
  /** `"GPU timestamps"` or `"host timing of flushed groups"`. */
  timing: string;
  /** Wall milliseconds between start and stop. */
  wallMs: number;
  /** Sum of kernel GPU milliseconds (timestamp mode) or of group milliseconds. */
  gpuMs: number;
  /** Kernel launches. */
  dispatches: number;
  /** Submits (flushes) during the profile. */
  submits: number;
  /** Rows sorted by total time, kernels and host activities. */
  rows: ProfileRow[];
  /** The key_averages()-like table as text. */
  table(opts?: { steps?: number; top?: number }): string;
  /** A Chrome trace (`chrome://tracing`, Perfetto): `{traceEvents: [...]}`. */
  chromeTrace(): { traceEvents: Record<string, unknown>[] };
}

/** The timestamp machinery of one flushed group. */
interface _Pending {
  querySet: GPUQuerySet;
  resolve: GPUBuffer;
  read: GPUBuffer;
  first: number;
  count: number;
}

/** Options of {@link startProfiling}. */
export interface ProfileOptions {
  /** Use host timing of flushed groups even when the device has timestamp-query (for tests). */
  forceHostTiming?: boolean;
  /**
   * Timing mode; default: `"per-dispatch"` on a CPU (fallback) adapter, whose submit runs the work
   * synchronously and whose timestamps are written when a pass is recorded rather than run (measured on
   * lavapipe: 95% of a step fell between kernels); else `"timestamps"` with timestamp-query, else `"groups"`.
   */
  timing?: "timestamps" | "per-dispatch" | "groups";
  /** Launches kept for the Chrome trace (aggregates count all); default 200000. */
  maxTraceEvents?: number;
}

/** Queries per query set: one begin/end pair per dispatch; Gpu flushes before it is full. */
export const PROFILE_QUERIES = 4096;

class _Session {
  launches: _Launch[] = [];
  host: _HostSpan[] = [];
  groups: _Group[] = [];
  agg = new Map<string, { calls: number; ms: number; flops: number; bytes: number }>();
  start = performance.now();
  lastHostEnd = NaN;
  jsMs = 0;
  jsCalls = 0;
  encodeMs = 0;
  dispatches = 0;
  submits = 0;
  group = 0;
  timestamps: boolean;
  perDispatch = false;
  prevLaunch: _Launch | null = null;
  device: GPUDevice | null = null;
  querySet: GPUQuerySet | null = null;
  queryUsed = 0;
  groupLaunches: _Launch[] = [];
  pending: Promise<void>[] = [];
  spare: _Pending[] = [];
  maxTrace: number;
  constructor(readonly opts: ProfileOptions) {
    this.timestamps = false;
    this.maxTrace = opts.maxTraceEvents ?? 200_000;
  }
}

let _session: _Session | null = null;

/** True while a profile is recording. */
export function profiling(): boolean {
  return _session !== null;
}

/**
 * Starts recording (one profile at a time). The device's `timestamp-query` decides the timing mode at the
 * first dispatch.
 */
export function startProfiling(opts: ProfileOptions = {}): void {
  if (_session) throw new Error("a profile is already recording: stopProfiling() first");
  _session = new _Session(opts);
}

/** Called by Gpu when a dispatch starts; returns the timestamp writes for its own pass (or undefined). */
export function profileDispatchBegin(
  device: GPUDevice,
  fallbackAdapter = false,
): GPUComputePassTimestampWrites | undefined {
  const s = _session;
  if (!s) return undefined;
  const now = performance.now();
  if (!Number.isNaN(s.lastHostEnd)) {
    s.jsMs += now - s.lastHostEnd;
    s.jsCalls++;
  }
  if (!s.device) {
    s.device = device;
    const mode = s.opts.forceHostTiming ? "groups" : s.opts.timing ??
      (fallbackAdapter ? "per-dispatch" : device.features.has("timestamp-query") ? "timestamps" : "groups");
    s.timestamps = mode === "timestamps" && device.features.has("timestamp-query");
    s.perDispatch = mode === "per-dispatch";
  }
  s.lastHostEnd = now; // provisional start, replaced in profileDispatchEnd
  if (!s.timestamps) return undefined;
  s.querySet ??= device.createQuerySet({ type: "timestamp", count: PROFILE_QUERIES, label: "profile" });
  const i = s.queryUsed;
  s.queryUsed += 2;
  return { querySet: s.querySet, beginningOfPassWriteIndex: i, endOfPassWriteIndex: i + 1 };
}

/** True when the current group's query set is full and Gpu must flush before the next dispatch. */
export function profileNeedsFlush(): boolean {
  const s = _session;
  if (!s) return false;
  if (s.perDispatch) return s.groupLaunches.length > 0;
  return s.timestamps && s.queryUsed + 2 > PROFILE_QUERIES;
}

/** Called by Gpu when a dispatch has been encoded. */
export function profileDispatchEnd(label: string, bytes: number, flops: number, hostStart: number): void {
  const s = _session;
  if (!s) return;
  const now = performance.now();
  s.encodeMs += now - hostStart;
  s.lastHostEnd = now;
  s.dispatches++;
  const l: _Launch = {
    label,
    hostStart,
    hostEnd: now,
    gpuStart: NaN,
    gpuEnd: NaN,
    flops,
    bytes,
    group: s.group,
  };
  s.groupLaunches.push(l);
  if (s.launches.length < s.maxTrace) s.launches.push(l);
  const a = s.agg.get(label) ?? { calls: 0, ms: 0, flops: 0, bytes: 0 };
  a.calls++;
  a.flops += flops;
  a.bytes += bytes;
  s.agg.set(label, a);
}

/** Called by Gpu just before it finishes the encoder of a flush: resolves this group's timestamps. */
export function profileBeforeSubmit(encoder: GPUCommandEncoder): void {
  const s = _session;
  if (!s || !s.timestamps || !s.querySet || s.queryUsed === 0) return;
  const count = s.queryUsed;
  const dev = s.device!;
  const p = s.spare.pop() ?? {
    querySet: s.querySet,
    resolve: dev.createBuffer({
      size: PROFILE_QUERIES * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: "profile-resolve",
    }),
    read: dev.createBuffer({
      size: PROFILE_QUERIES * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "profile-read",
    }),
    first: 0,
    count: 0,
  };
  p.querySet = s.querySet;
  p.count = count;
  encoder.resolveQuerySet(s.querySet, 0, count, p.resolve, 0);
  encoder.copyBufferToBuffer(p.resolve, 0, p.read, 0, count * 8);
  _pendingSubmit = p;
  s.querySet = null; // the next group gets a fresh query set (this one is read after the submit)
}

let _pendingSubmit: _Pending | null = null;

/** Called by Gpu right after a flush's submit. */
export function profileAfterSubmit(queue: GPUQueue, flushStart: number): void {
  const s = _session;
  if (!s) return;
  const now = performance.now();
  if (s.perDispatch) {
    // A CPU adapter's queue blocks the next flush (its uniform upload) until the previous submit has
    // run: this flush's time is the previous kernel's (and its copies').
    _attribute(s, s.prevLaunch, flushStart, now);
  } else s.host.push({ name: "host: flush (uniform upload + submit)", start: flushStart, end: now });
  s.lastHostEnd = now;
  s.submits++;
  const launches = s.groupLaunches;
  s.groupLaunches = [];
  s.group++;
  if (s.timestamps) {
    const p = _pendingSubmit;
    _pendingSubmit = null;
    s.queryUsed = 0;
    if (!p) return;
    s.pending.push(
      p.read.mapAsync(GPUMapMode.READ).then(() => {
        const t = new BigUint64Array(p.read.getMappedRange(0, p.count * 8));
        for (let i = 0; i < launches.length && 2 * i + 1 < p.count; i++) {
          const l = launches[i];
          l.gpuStart = Number(t[2 * i]) / 1e6;
          l.gpuEnd = Number(t[2 * i + 1]) / 1e6;
          const a = s.agg.get(l.label);
          if (a && l.gpuEnd >= l.gpuStart) a.ms += l.gpuEnd - l.gpuStart;
        }
        p.read.unmap();
        p.querySet.destroy();
        s.spare.push(p);
      }),
    );
  } else if (s.perDispatch) {
    s.prevLaunch = launches.length === 1 ? launches[0] : null;
  } else if (launches.length > 0) {
    const g: _Group = { submit: performance.now(), done: NaN, kernels: launches.length, labels: new Map() };
    for (const l of launches) g.labels.set(l.label, (g.labels.get(l.label) ?? 0) + 1);
    s.groups.push(g);
    s.pending.push(queue.onSubmittedWorkDone().then(() => void (g.done = performance.now())));
  }
}

/** Called by Gpu around host queue work (writes, readbacks, sync waits). */
export function profileHostSpan(name: string, start: number): void {
  const s = _session;
  if (!s) return;
  if (s.perDispatch && s.prevLaunch && (name.includes("sync wait") || name.includes("readback wait"))) {
    _attribute(s, s.prevLaunch, start, performance.now()); // waiting for the last kernel submitted
    s.prevLaunch = null;
    s.lastHostEnd = performance.now();
    return;
  }
  s.host.push({ name, start, end: performance.now() });
  s.lastHostEnd = performance.now();
}

function _attribute(s: _Session, l: _Launch | null, start: number, end: number): void {
  if (!l) {
    s.host.push({ name: "host: flush (uniform upload + submit)", start, end });
    return;
  }
  const a = s.agg.get(l.label);
  if (a) a.ms += end - start;
  l.gpuStart = start;
  l.gpuEnd = end;
}

/** Stops recording and returns the report (waits for outstanding timestamp readbacks). */
export async function stopProfiling(): Promise<ProfileReport> {
  const s = _session;
  if (!s) throw new Error("no profile is recording: startProfiling() first");
  const wallMs = performance.now() - s.start;
  _session = null;
  await Promise.all(s.pending);
  for (const p of s.spare) {
    p.resolve.destroy();
    p.read.destroy();
  }
  return _report(s, wallMs);
}

function _family(label: string): string {
  const i = label.indexOf(".");
  return i < 0 ? label : label.slice(0, i);
}

function _report(s: _Session, wallMs: number): ProfileReport {
  const rows: ProfileRow[] = [];
  let gpuMs = 0;
  if (s.timestamps || s.perDispatch) {
    for (const [name, a] of s.agg) {
      gpuMs += a.ms;
      rows.push({
        name,
        family: _family(name),
        calls: a.calls,
        totalMs: a.ms,
        percent: 0,
        gflops: a.flops > 0 && a.ms > 0 ? a.flops / a.ms / 1e6 : NaN,
        gbs: a.bytes > 0 && a.ms > 0 ? a.bytes / a.ms / 1e6 : NaN,
      });
    }
  } else {
    // group time = from max(submit, previous group done) to done
    let prevDone = 0;
    const byKey = new Map<string, ProfileRow>();
    for (const g of s.groups) {
      const ms = Math.max(0, g.done - Math.max(g.submit, prevDone));
      prevDone = g.done;
      gpuMs += ms;
      const top = [...g.labels].sort((a, b) => b[1] - a[1]).slice(0, 2).map(([l]) => l).join("+");
      const key = `group(${g.kernels} kernels: ${top}${g.labels.size > 2 ? "+…" : ""})`;
      const r = byKey.get(key) ??
        { name: key, family: "group", calls: 0, totalMs: 0, percent: 0, gflops: NaN, gbs: NaN };
      r.calls++;
      r.totalMs += ms;
      byKey.set(key, r);
    }
    rows.push(...byKey.values());
    for (const [name, a] of s.agg) {
      rows.push({
        name: `${name} (launches only)`,
        family: _family(name),
        calls: a.calls,
        totalMs: 0,
        percent: 0,
        gflops: NaN,
        gbs: NaN,
      });
    }
  }
  if (s.timestamps) {
    // GPU time inside a submit not covered by any kernel's pass: copies, barriers, pass overhead
    let gapMs = 0, gaps = 0;
    for (let i = 1; i < s.launches.length; i++) {
      const a = s.launches[i - 1], b = s.launches[i];
      if (a.group === b.group && Number.isFinite(a.gpuEnd) && Number.isFinite(b.gpuStart)) {
        gapMs += Math.max(0, b.gpuStart - a.gpuEnd);
        gaps++;
      }
    }
    rows.push({
      name: "gpu: between kernels (copies, barriers, pass overhead)",
      family: "gpu-gap",
      calls: gaps,
      totalMs: gapMs,
      percent: 0,
      gflops: NaN,
      gbs: NaN,
    });
  }
  const hostAgg = new Map<string, { calls: number; ms: number }>();
  const addHost = (name: string, calls: number, ms: number) => {
    const h = hostAgg.get(name) ?? { calls: 0, ms: 0 };
    h.calls += calls;
    h.ms += ms;
    hostAgg.set(name, h);
  };
  addHost("host: js between dispatches", s.jsCalls, s.jsMs);
  addHost("host: encode (bind groups, uniforms)", s.dispatches, s.encodeMs);
  for (const h of s.host) addHost(h.name, 1, h.end - h.start);
  for (const [name, h] of hostAgg) {
    rows.push({ name, family: "host", calls: h.calls, totalMs: h.ms, percent: 0, gflops: NaN, gbs: NaN });
  }
  for (const r of rows) r.percent = wallMs > 0 ? 100 * r.totalMs / wallMs : 0;
  rows.sort((a, b) => b.totalMs - a.totalMs);
  const timing = s.timestamps
    ? "GPU timestamps"
    : s.perDispatch
    ? "host timing per dispatch (CPU adapter: one submit per kernel, timed until the next submit can start)"
    : "host timing of flushed groups";
  const report: ProfileReport = {
    timing,
    wallMs,
    gpuMs,
    dispatches: s.dispatches,
    submits: s.submits,
    rows,
    table: (opts = {}) => _table(report, opts.steps ?? 1, opts.top ?? 40),
    chromeTrace: () => _trace(s),
  };
  return report;
}

function _table(r: ProfileReport, steps: number, top: number): string {
  const f = (x: number, d = 1) => Number.isFinite(x) ? x.toFixed(d) : "-";
  const lines = [
    `profile: ${r.timing}; wall ${f(r.wallMs)} ms over ${steps} step(s); kernel time ${f(r.gpuMs)} ms ` +
    `(${
      f(100 * r.gpuMs / Math.max(r.wallMs, 1e-9))
    }% of wall); ${r.dispatches} dispatches, ${r.submits} submits`,
    "| name | family | calls | total ms | ms/step | % of wall | GFLOP/s | GB/s |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const row of r.rows.slice(0, top)) {
    lines.push(
      `| ${row.name} | ${row.family} | ${row.calls} | ${f(row.totalMs)} | ${f(row.totalMs / steps)} | ` +
        `${f(row.percent)} | ${f(row.gflops)} | ${f(row.gbs)} |`,
    );
  }
  const fam = new Map<string, number>();
  for (const row of r.rows) fam.set(row.family, (fam.get(row.family) ?? 0) + row.totalMs);
  lines.push(
    "by family: " +
      [...fam].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${f(100 * v / Math.max(r.wallMs, 1e-9))}%`)
        .join(", "),
  );
  return lines.join("\n");
}

function _trace(s: _Session): { traceEvents: Record<string, unknown>[] } {
  const ev: Record<string, unknown>[] = [
    { name: "process_name", ph: "M", pid: 1, args: { name: "webgpu-ner" } },
    { name: "thread_name", ph: "M", pid: 1, tid: 1, args: { name: "host (encode)" } },
    { name: "thread_name", ph: "M", pid: 1, tid: 2, args: { name: s.timestamps ? "GPU" : "GPU groups" } },
  ];
  const us = (ms: number) => Math.round((ms - s.start) * 1000 * 10) / 10;
  // GPU clock → host clock: align the first timed kernel's start with its encode end
  const first = s.launches.find((l) => Number.isFinite(l.gpuStart));
  const off = first && s.timestamps ? first.hostEnd - first.gpuStart : 0;
  for (const l of s.launches) {
    const args = { flops: l.flops || undefined, bytes: l.bytes, group: l.group };
    ev.push({
      name: l.label,
      cat: _family(l.label),
      ph: "X",
      pid: 1,
      tid: 1,
      ts: us(l.hostStart),
      dur: Math.max(0.1, (l.hostEnd - l.hostStart) * 1000),
      args,
    });
    if (Number.isFinite(l.gpuStart)) {
      ev.push({
        name: l.label,
        cat: _family(l.label),
        ph: "X",
        pid: 1,
        tid: 2,
        ts: us(l.gpuStart + off),
        dur: Math.max(0.1, (l.gpuEnd - l.gpuStart) * 1000),
        args,
      });
    }
  }
  for (const g of s.groups) {
    if (Number.isFinite(g.done)) {
      ev.push({
        name: `group of ${g.kernels}`,
        cat: "group",
        ph: "X",
        pid: 1,
        tid: 2,
        ts: us(g.submit),
        dur: (g.done - g.submit) * 1000,
        args: Object.fromEntries(g.labels),
      });
    }
  }
  for (const h of s.host) {
    ev.push({
      name: h.name,
      cat: "host",
      ph: "X",
      pid: 1,
      tid: 1,
      ts: us(h.start),
      dur: (h.end - h.start) * 1000,
    });
  }
  return { traceEvents: ev };
}
