/**
 * `deno task login | whoami | logout | upload`, as `hf auth login/whoami/logout` and `hf upload` do:
 *
 *   deno task login [--token T]        validate with /api/whoami-v2, then save the token file (mode 0600)
 *   deno task whoami                   who the current token belongs to
 *   deno task logout                   remove the token file
 *   deno task upload REPO_ID [LOCAL_PATH] [PATH_IN_REPO] [--commit-message M] [--commit-description D]
 *                    [--private] [--revision R] [--include GLOB…] [--exclude GLOB…] [--token T]
 *
 * Without `--token`, login reads the token from stdin without echoing it. A rejected token writes
 * nothing and exits 1 with the Hub's reason. `upload` creates the repo when needed, leaves out `.git/`
 * and `checkpoint-*` folders (unless an `--include` names them) and files unchanged since the last commit.
 * @module
 */
import { resolve } from "node:path";
import { HubError } from "./hub.ts";
import { HubClient } from "./hub_api.ts";
import { deleteToken, findToken, saveToken } from "./hub_token.ts";
import { uploadFolder } from "./hub_upload.ts";

const _USAGE = `Usage:
  deno task login [--token T]
  deno task whoami
  deno task logout
  deno task upload REPO_ID [LOCAL_PATH] [PATH_IN_REPO] [--commit-message M] [--commit-description D]
                   [--private] [--revision R] [--include GLOB...] [--exclude GLOB...] [--token T]`;

class _Usage extends Error {}

interface _Parsed {
  positional: string[];
  flags: Record<string, string[]>;
}

const _BOOL = new Set(["--private", "--help", "-h"]);
const _MULTI = new Set(["--include", "--exclude"]);
const _VALUE = new Set(["--token", "--commit-message", "--commit-description", "--revision"]);

function _parse(argv: string[], allowed: string[]): _Parsed {
  const out: _Parsed = { positional: [], flags: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("-")) {
      out.positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!allowed.includes(flag) && flag !== "--help" && flag !== "-h") {
      throw new _Usage(`unknown argument '${a}'`);
    }
    const vals = (out.flags[flag] ??= []);
    if (_BOOL.has(flag)) {
      vals.push(eq > 0 ? a.slice(eq + 1) : "true");
    } else if (eq > 0) {
      vals.push(a.slice(eq + 1));
    } else if (_MULTI.has(flag)) {
      let n = 0;
      while (i + 1 < argv.length && !argv[i + 1].startsWith("--")) vals.push(argv[++i]), n++;
      if (!n) throw new _Usage(`${flag} needs at least one pattern`);
    } else if (_VALUE.has(flag)) {
      if (i + 1 >= argv.length) throw new _Usage(`${flag} needs a value`);
      vals.push(argv[++i]);
    }
  }
  return out;
}

/** Reads one line from stdin; on a terminal the typed characters are not echoed. */
async function _readSecret(prompt: string): Promise<string> {
  const enc = new TextEncoder();
  const tty = Deno.stdin.isTerminal();
  if (tty) {
    await Deno.stderr.write(enc.encode(prompt));
    Deno.stdin.setRaw(true);
  }
  const bytes: number[] = [];
  const buf = new Uint8Array(1);
  try {
    for (;;) {
      const n = await Deno.stdin.read(buf);
      if (n === null) break;
      const c = buf[0];
      if (c === 3 && tty) throw new _Usage("cancelled"); // Ctrl-C in raw mode
      if (c === 10 || c === 13) break;
      if ((c === 127 || c === 8) && tty) bytes.pop();
      else bytes.push(c);
    }
  } finally {
    if (tty) {
      Deno.stdin.setRaw(false);
      await Deno.stderr.write(enc.encode("\n"));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes)).trim();
}

function _one(p: _Parsed, flag: string): string | undefined {
  return p.flags[flag]?.at(-1);
}

async function _login(argv: string[], out: (s: string) => void, err: (s: string) => void) {
  const p = _parse(argv, ["--token"]);
  if (p.positional.length) throw new _Usage(`login takes no positional arguments`);
  const token = _one(p, "--token") ?? await _readSecret("Enter your Hugging Face token (input is hidden): ");
  if (!token) throw new _Usage("no token given");
  const me = await new HubClient({ token }).whoami();
  const path = await saveToken(token);
  const role = me.auth?.accessToken?.role;
  out(`Logged in as ${me.name}${role ? ` (token role: ${role})` : ""}. Token saved to ${path}`);
  const env = findToken();
  if (env && env.source !== "token file") {
    err(`warning: ${env.source} is set and takes precedence over the saved token`);
  }
  return 0;
}

async function _whoami(argv: string[], out: (s: string) => void, err: (s: string) => void) {
  const p = _parse(argv, ["--token"]);
  const client = new HubClient({ token: _one(p, "--token") });
  if (!client.hasToken) {
    err("Not logged in: run `deno task login` or set HF_TOKEN");
    return 1;
  }
  const me = await client.whoami();
  out(me.name);
  const orgs = (me.orgs ?? []).map((o) => o.name);
  if (orgs.length) out(`orgs: ${orgs.join(", ")}`);
  err(`(token from ${client.tokenSource}, endpoint ${client.endpoint})`);
  return 0;
}

async function _logout(argv: string[], out: (s: string) => void, err: (s: string) => void) {
  _parse(argv, []);
  const removed = await deleteToken();
  out(removed ? `Logged out: removed ${removed}` : "Not logged in: no token file to remove");
  const env = findToken();
  if (env && env.source !== "token file") err(`note: ${env.source} is still set in the environment`);
  return 0;
}

async function _upload(argv: string[], out: (s: string) => void, err: (s: string) => void) {
  const p = _parse(argv, [
    "--token",
    "--commit-message",
    "--commit-description",
    "--revision",
    "--private",
    "--include",
    "--exclude",
  ]);
  const [repo, localArg = ".", inRepo] = p.positional;
  // `deno task` runs in the project folder; a relative path is the user's, from where they typed it
  let cwd: string | undefined;
  try {
    cwd = Deno.env.get("INIT_CWD");
  } catch { /* not allowed: use the current folder */ }
  const local = cwd ? resolve(cwd, localArg) : localArg;
  if (!repo || p.positional.length > 3) throw new _Usage("upload needs REPO_ID [LOCAL_PATH] [PATH_IN_REPO]");
  const include = p.flags["--include"];
  const exclude = [...(p.flags["--exclude"] ?? [])];
  if (!(include ?? []).some((g) => g.startsWith("checkpoint"))) exclude.push("checkpoint-*");
  const client = new HubClient({ token: _one(p, "--token"), onRetry: (m) => err(`upload: ${m}`) });
  const { repoId } = await client.createRepo(repo, { private: _one(p, "--private") === "true" });
  const revision = _one(p, "--revision");
  if (revision && revision !== "main") await client.createBranch(repoId, revision); // as `hf upload` does
  const info = await uploadFolder(client, repoId, local, {
    pathInRepo: inRepo,
    include,
    exclude,
    commitMessage: _one(p, "--commit-message"),
    commitDescription: _one(p, "--commit-description"),
    revision,
    onProgress: (m) => err(`upload: ${m}`),
  });
  if (info.skipped) out(`${client.repoUrl(repoId)}: nothing changed since the last commit`);
  else out(info.commitUrl ?? client.repoUrl(repoId));
  return 0;
}

/** Runs one of the commands (`login`, `whoami`, `logout`, `upload`) with `argv`; returns the exit code. */
export async function hubMain(
  argv: string[],
  out: (s: string) => void = console.log,
  err: (s: string) => void = console.error,
): Promise<number> {
  const [cmd, ...rest] = argv;
  const commands: Record<string, typeof _login> = {
    login: _login,
    whoami: _whoami,
    logout: _logout,
    upload: _upload,
  };
  try {
    if (rest.includes("--help") || rest.includes("-h")) {
      out(_USAGE);
      return 0;
    }
    const run = commands[cmd];
    if (!run) throw new _Usage(`unknown command '${cmd ?? ""}'`);
    return await run(rest, out, err);
  } catch (e) {
    if (e instanceof _Usage) {
      err(`${cmd ?? "hub"}: ${e.message}\n\n${_USAGE}`);
      return 2;
    }
    err(`${cmd}: ${e instanceof HubError ? e.message : (e as Error)?.message ?? String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await hubMain(Deno.args));
