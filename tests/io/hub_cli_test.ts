// `deno task login/whoami/logout/upload` exactly as a user runs them (through deno.json's tasks, so the
// permissions are the tasks' own), against the mock Hub on 127.0.0.1 named by HF_ENDPOINT.
import { assert, assertEquals } from "../_assert.ts";
import { MockHubWrite } from "./_mock_hub_write.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TOKEN = "hf_write_token";
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function task(args: string[], env: Record<string, string>, stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", ...args],
    cwd: ROOT,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", ...env },
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

async function exists(p: string): Promise<boolean> {
  return await Deno.stat(p).then(() => true, () => false);
}

Deno.test("hub CLI: login (token on stdin) → whoami → logout round trip; the token file is mode 0600", async () => {
  const hub = MockHubWrite.start();
  const home = await Deno.makeTempDir();
  const env = { HF_ENDPOINT: hub.url, HF_HOME: home };
  try {
    const login = await task(["login"], env, `${TOKEN}\n`);
    assertEquals(login.code, 0, login.stderr);
    assert(login.stdout.includes("Logged in as alice"), login.stdout);
    assert(!login.stdout.includes(TOKEN) && !login.stderr.includes(TOKEN), "token echoed");
    const st = await Deno.stat(`${home}/token`);
    assertEquals(st.mode! & 0o777, 0o600);
    assertEquals(await Deno.readTextFile(`${home}/token`), TOKEN);
    const who = await task(["whoami"], env);
    assertEquals([who.code, who.stdout.trim().split("\n")[0]], [0, "alice"]);
    const out = await task(["logout"], env);
    assertEquals(out.code, 0, out.stderr);
    assert(!(await exists(`${home}/token`)), "logout removed the token file");
    const after = await task(["whoami"], env);
    assertEquals(after.code, 1);
    assert(after.stderr.includes("Not logged in"), after.stderr);
  } finally {
    await hub.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("hub CLI: a rejected token exits non-zero with the Hub's reason and writes nothing", async () => {
  const hub = MockHubWrite.start();
  const home = await Deno.makeTempDir();
  try {
    const r = await task(["login", "--token", "hf_bad_token_9"], { HF_ENDPOINT: hub.url, HF_HOME: home });
    assertEquals(r.code, 1);
    assert(r.stderr.includes("HTTP 401") && r.stderr.includes("Invalid username or password"), r.stderr);
    assert(!r.stderr.includes("hf_bad_token_9"), "token in the error");
    assert(!(await exists(`${home}/token`)), "nothing written");
    assertEquals([...Deno.readDirSync(home)].length, 0);
  } finally {
    await hub.close();
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("hub CLI: deno task upload pushes a folder (no checkpoint-*); 401 and 404 name the fix", async () => {
  const hub = MockHubWrite.start();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/checkpoint-3`, { recursive: true });
    await Deno.writeTextFile(`${dir}/config.json`, "{}\n");
    await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array(4096).map((_, i) => i % 251));
    await Deno.writeTextFile(`${dir}/checkpoint-3/trainer_state.json`, "{}\n");
    const env = { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: dir };
    const up = await task(["upload", "tiny", dir, "--commit-message", "Upload it", "--private"], env);
    assertEquals(up.code, 0, up.stderr);
    assert(up.stdout.includes(`${hub.url}/alice/tiny/commit/`), up.stdout);
    const repo = hub.repos.get("alice/tiny")!;
    assert(repo.private, "--private");
    assertEquals([...repo.files.keys()].sort(), [".gitattributes", "config.json", "model.safetensors"]);
    assertEquals(hub.summaries("alice/tiny").at(-1), "Upload it");
    const sub = await task(["upload", "alice/tiny", `${dir}/config.json`, "cfg/c.json"], env);
    assertEquals(sub.code, 0, sub.stderr);
    assert(repo.files.has("cfg/c.json"), "single file to PATH_IN_REPO");
    const bad = await task(["upload", "alice/tiny", dir], { ...env, HF_TOKEN: "hf_wrong" });
    assertEquals(bad.code, 1);
    assert(bad.stderr.includes("HTTP 401") && bad.stderr.includes("deno task login"), bad.stderr);
    await Deno.writeTextFile(`${dir}/config.json`, '{"dev": true}\n');
    const dev = await task(
      ["upload", "alice/tiny", dir, "--revision", "dev", "--commit-message", "on dev"],
      env,
    );
    assertEquals(dev.code, 0, dev.stderr);
    assertEquals(repo.branches?.get("dev")?.commits.at(-1)?.summary, "on dev");
    assertEquals(hub.text("alice/tiny", "config.json"), "{}\n", "main is untouched");
    hub.faults = [{ status: 404, times: 1, path: /\/preupload\// }]; // e.g. the repo was deleted meanwhile
    const missing = await task(["upload", "alice/tiny", dir], env);
    assertEquals(missing.code, 1);
    assert(
      missing.stderr.includes("HTTP 404") && missing.stderr.includes("check the repo id"),
      missing.stderr,
    );
    assert(missing.stderr.includes("revision"), missing.stderr);
    const usage = await task(["upload"], env);
    assertEquals(usage.code, 2);
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hub CLI: net access is HF_ENDPOINT's host and the Hub's only: an upload URL elsewhere is refused", async () => {
  const hub = MockHubWrite.start();
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/model.safetensors`, new Uint8Array(64).fill(1));
    hub.uploadOrigin = hub.url.replace("127.0.0.1", "localhost"); // same server, a host the task may not reach
    const r = await task(["upload", "alice/perm", dir], {
      HF_ENDPOINT: hub.url,
      HF_TOKEN: TOKEN,
      HF_HOME: dir,
    });
    assertEquals(r.code, 1, r.stderr);
    assert(r.stderr.includes("no network permission for localhost"), r.stderr);
    assert(!hub.requests.some((q) => q.path.startsWith("/lfs-upload/")), "nothing reached the other host");
  } finally {
    await hub.close();
    await Deno.remove(dir, { recursive: true });
  }
});
