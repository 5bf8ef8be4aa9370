/**
 * Test helpers for the browser: a static server on 127.0.0.1 (repo files and extra in-memory files, with
 * browser MIME types), a headless Chromium started with WebGPU enabled (SwiftShader here) and stopped by
 * PID, and a small DevTools-protocol client over a WebSocket (evaluate, navigate, screenshot, console).
 * @module
 */

const _MIME: Record<string, string> = {
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".txt": "text/plain; charset=utf-8",
};

/** A running static server: its origin and how to stop it. */
export interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

/** Serves files below `root` (and `extra` by URL path) on 127.0.0.1 at a free port. */
export function serveStatic(root: URL, extra: Record<string, Uint8Array | string> = {}): StaticServer {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname);
      if (path.includes("..")) return new Response("bad path", { status: 400 });
      const ext = path.slice(path.lastIndexOf("."));
      const headers = {
        "content-type": _MIME[ext] ?? "application/octet-stream",
        "cache-control": "no-store",
      };
      const mem = extra[path];
      if (mem !== undefined) return new Response(req.method === "HEAD" ? null : mem as BodyInit, { headers });
      try {
        const body = await Deno.readFile(new URL(path.replace(/^\/+/, ""), root));
        return new Response(req.method === "HEAD" ? null : body, { headers });
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    close: async () => {
      ac.abort();
      await server.finished;
    },
  };
}

/** A DevTools-protocol connection to one page. */
export class CdpPage {
  #ws: WebSocket;
  #next = 1;
  #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #listeners: ((method: string, params: Record<string, unknown>) => void)[] = [];
  /** Console messages and uncaught exceptions seen on the page, in order. */
  readonly console: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data as string);
      if (msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (!p) return;
        if (msg.error) p.reject(new Error(`CDP ${msg.error.message}`));
        else p.resolve(msg.result);
      } else {
        if (msg.method === "Runtime.consoleAPICalled") {
          // deno-lint-ignore no-explicit-any
          this.console.push(msg.params.args.map((a: any) => a.value ?? a.description ?? "").join(" "));
        } else if (msg.method === "Runtime.exceptionThrown") {
          this.console.push(`exception: ${msg.params.exceptionDetails?.exception?.description ?? "?"}`);
        }
        for (const l of this.#listeners) l(msg.method, msg.params);
      }
    };
    ws.onclose = () => {
      for (const p of this.#pending.values()) p.reject(new Error("CDP connection closed"));
      this.#pending.clear();
    };
  }

  /** Connects to a page target's WebSocket URL and enables the Runtime and Page domains. */
  static async connect(url: string): Promise<CdpPage> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = (e) => reject(new Error(`cannot open ${url}: ${(e as ErrorEvent).message}`));
    });
    const page = new CdpPage(ws);
    await page.send("Runtime.enable");
    await page.send("Page.enable");
    return page;
  }

  /** Sends one command and waits for its result. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    this.#ws.send(JSON.stringify({ id, method, params }));
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  /** Waits for the next event named `method`. */
  waitFor(method: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${method}`)), timeoutMs);
      const l = (m: string, p: Record<string, unknown>) => {
        if (m !== method) return;
        clearTimeout(timer);
        this.#listeners = this.#listeners.filter((x) => x !== l);
        resolve(p);
      };
      this.#listeners.push(l);
    });
  }

  /** Navigates and waits for the load event. */
  async navigate(url: string): Promise<void> {
    const loaded = this.waitFor("Page.loadEventFired");
    await this.send("Page.navigate", { url });
    await loaded;
  }

  /** Evaluates an expression (awaiting a promise) and returns its JSON value; page exceptions are thrown. */
  async evaluate<T = unknown>(expression: string): Promise<T> {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    // deno-lint-ignore no-explicit-any
    const ex = r.exceptionDetails as any;
    if (ex) throw new Error(`in the page: ${ex.exception?.description ?? ex.text}`);
    // deno-lint-ignore no-explicit-any
    return (r.result as any).value as T;
  }

  /** A PNG screenshot of the page. */
  async screenshot(): Promise<Uint8Array> {
    const r = await this.send("Page.captureScreenshot", { format: "png" });
    return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
  }

  /** Closes the WebSocket. */
  close(): void {
    this.#ws.close();
  }
}

/** A headless Chromium process and a page in it. */
export interface Browser {
  pid: number;
  page: CdpPage;
  /** Stops the page connection and the browser (SIGTERM to its PID, SIGKILL after 5 s), removes its profile. */
  close(): Promise<void>;
}

/** The Chromium binary (CHROMIUM env, else `chromium` on PATH). */
export function chromiumPath(): string {
  return Deno.env.get("CHROMIUM") ?? "chromium";
}

/** Starts headless Chromium with WebGPU on a fresh profile and connects to its first page. */
export async function launchChromium(): Promise<Browser> {
  const profile = await Deno.makeTempDir({ prefix: "webgpu-ner-chromium-" });
  const child = new Deno.Command(chromiumPath(), {
    args: [
      "--headless=new",
      "--no-sandbox",
      "--enable-unsafe-webgpu",
      "--disable-gpu-sandbox",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--no-default-browser-check",
      "--disable-quic",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      "--remote-debugging-port=0",
      "--window-size=1000,800",
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const pid = child.pid;
  // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/…" on stderr.
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  let port = 0;
  const deadline = Date.now() + 30_000;
  while (!port) {
    const r = await Promise.race([
      reader.read(),
      new Promise<{ done: true; value: undefined }>((res) =>
        setTimeout(() => res({ done: true, value: undefined }), Math.max(0, deadline - Date.now()))
      ),
    ]);
    if (r.done) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
      throw new Error(`chromium did not start its DevTools server; stderr:\n${seen.slice(-2000)}`);
    }
    seen += r.value;
    const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(seen);
    if (m) port = Number(m[1]);
  }
  // Keep draining stderr so the browser never blocks on a full pipe.
  (async () => {
    try {
      while (!(await reader.read()).done) { /* drain */ }
    } catch { /* closed */ }
  })();
  const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
    type: string;
    webSocketDebuggerUrl: string;
  }[];
  const target = list.find((t) => t.type === "page");
  if (!target) throw new Error("chromium has no page target");
  const page = await CdpPage.connect(target.webSocketDebuggerUrl);
  return {
    pid,
    page,
    close: async () => {
      page.close();
      try {
        Deno.kill(pid, "SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* gone */ }
      }, 5000);
      await child.status;
      clearTimeout(timer);
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** Bundles mod.ts for browsers into `outFile` with the same command as `deno task bundle`. */
export async function bundleLibrary(outFile: string): Promise<void> {
  const root = new URL("../../", import.meta.url);
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--platform",
      "browser",
      "--format",
      "esm",
      "--sourcemap",
      "external",
      "-o",
      outFile,
      "mod.ts",
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`deno bundle failed:\n${new TextDecoder().decode(out.stderr)}`);
}
