/**
 * Pushing training output to the Hugging Face Hub as HF's Trainer does (`push_to_hub`, `hub_model_id`,
 * `hub_strategy`, `hub_token`, `hub_private_repo`, `hub_always_push`, `hub_revision`), the custom loop's
 * `pushToHub(folder, repoId, { blocking: false })`, and resuming from a repo's `last-checkpoint/`.
 *
 * A push in the background first takes a snapshot of what it will send (hard links for large files,
 * copies for small ones, in `<folder>/.hub-staging-*`), so training can go on writing the folder while
 * the upload runs; at most one push per repo is in flight.
 * @module
 */
import { basename, join } from "../io/path.ts";
import { type EnvGetter, HubError, isValidModelId, resolveModelFiles } from "../io/hub.ts";
import { HubClient } from "../io/hub_api.ts";
import { type CommitInfo, listFolder, uploadFolder } from "../io/hub_upload.ts";
import type { TrainingArguments } from "./args.ts";

/** When the Trainer pushes (HF's `hub_strategy`). */
export type HubStrategy = "end" | "every_save" | "checkpoint" | "all_checkpoints";

/** Environment, fetch and log of the Hub calls (tests point them at a mock). */
export interface HubContext {
  env?: EnvGetter;
  fetch?: typeof fetch;
  /** Progress and warnings (default: stderr, prefixed `hub: `). */
  log?: (message: string) => void;
}

/** What happened to one push (for logs and tests). */
export interface PushRecord {
  message: string;
  /** `done`, `skipped` (another push was running) or `failed`. */
  outcome: "done" | "skipped" | "failed" | "running";
  commit?: CommitInfo;
  error?: string;
}

const _BIG = 1 << 20;
const _STATE_FILES = new Set([
  "optimizer.safetensors",
  "scheduler.json",
  "rng_state.json",
  "trainer_state.json",
]);

/** Training arguments as written to `training_args.json` and checkpoints: the token is never saved. */
export function argsForSave(a: TrainingArguments): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  if ("hubToken" in out && out.hubToken) out.hubToken = "<HUB_TOKEN>";
  return out;
}

async function _copyAtomic(from: string, to: string): Promise<void> {
  const tmp = `${to}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  try {
    await Deno.link(from, tmp); // checkpoint files are never rewritten in place: sharing them is safe
  } catch {
    await Deno.copyFile(from, tmp);
  }
  await Deno.rename(tmp, to);
}

/** Snapshot of `files` (repo path → local path) in a fresh staging folder below `under`. */
async function _stage(under: string, files: [string, string][]): Promise<string> {
  const dir = join(under, `.hub-staging-${crypto.randomUUID().slice(0, 8)}`);
  for (const [inRepo, local] of files) {
    const to = join(dir, inRepo);
    await Deno.mkdir(join(to, ".."), { recursive: true });
    const st = await Deno.stat(local);
    if (st.size >= _BIG) {
      try {
        await Deno.link(local, to); // files are replaced by rename, so a link is a stable snapshot
        continue;
      } catch { /* other filesystem, or links unsupported: copy */ }
    }
    await Deno.copyFile(local, to);
  }
  return dir;
}

async function _filesOf(folder: string, exclude: string[], prefix = ""): Promise<[string, string][]> {
  return (await listFolder(folder, { exclude })).map((f) => [prefix + f, join(folder, f)]);
}

/** Removes staging folders a killed run left behind. */
async function _cleanStaging(folder: string): Promise<void> {
  try {
    for await (const e of Deno.readDir(folder)) {
      if (e.isDirectory && e.name.startsWith(".hub-staging-")) {
        await Deno.remove(join(folder, e.name), { recursive: true }).catch(() => {});
      }
    }
  } catch { /* no folder yet */ }
}

/** The Trainer's Hub side: creates the repo at the start, pushes on save in the background, and at the end. */
export class HubPusher {
  /** `namespace/name` of the repo. */
  readonly repoId: string;
  /** The repo's URL. */
  readonly url: string;
  /** Every push so far, oldest first. */
  readonly pushes: PushRecord[] = [];
  readonly #client: HubClient;
  readonly #args: TrainingArguments;
  readonly #log: (m: string) => void;
  #inFlight: Promise<void> | null = null;

  private constructor(
    client: HubClient,
    repoId: string,
    url: string,
    args: TrainingArguments,
    log: (m: string) => void,
  ) {
    this.#client = client;
    this.repoId = repoId;
    this.url = url;
    this.#args = args;
    this.#log = log;
  }

  /**
   * Creates (or finds) the repo: `hubModelId`, default the output folder's name, in the token user's
   * namespace when it has none. Fails here, before any training, on a bad token or id.
   */
  static async create(args: TrainingArguments, ctx: HubContext = {}): Promise<HubPusher> {
    const log = ctx.log ?? ((m: string) => console.error(`hub: ${m}`));
    const client = new HubClient({ token: args.hubToken, env: ctx.env, fetch: ctx.fetch, onRetry: log });
    const id = args.hubModelId ?? basename(args.outputDir.replace(/\/+$/, "")) ?? "model";
    const repo = await client.createRepo(id, { private: args.hubPrivateRepo });
    if (args.hubRevision && args.hubRevision !== "main") {
      await client.createBranch(repo.repoId, args.hubRevision);
    }
    await _cleanStaging(args.outputDir);
    log(`pushing to ${repo.url} (strategy ${args.hubStrategy})`);
    return new HubPusher(client, repo.repoId, repo.url, args, log);
  }

  /** Whether a push is running. */
  get busy(): boolean {
    return this.#inFlight !== null;
  }

  /**
   * Called after a checkpoint was saved: copies the model files of `checkpointDir` and `extraFiles`
   * (model card, curve) into the output folder, snapshots what the strategy pushes and starts the
   * push without waiting for it. Skipped while another push runs, unless `hubAlwaysPush` (then queued).
   */
  async onSave(checkpointDir: string, message: string, extraFiles: Record<string, string>): Promise<void> {
    const a = this.#args;
    if (a.hubStrategy === "end") return;
    if (this.#inFlight && !a.hubAlwaysPush) {
      this.pushes.push({ message, outcome: "skipped" });
      this.#log(`previous push still running; not pushing "${message}" (hubAlwaysPush pushes every save)`);
      return;
    }
    const out = a.outputDir;
    for await (const e of Deno.readDir(checkpointDir)) {
      if (e.isFile && !_STATE_FILES.has(e.name)) {
        await _copyAtomic(join(checkpointDir, e.name), join(out, e.name));
      }
    }
    for (const [name, text] of Object.entries(extraFiles)) {
      const tmp = join(out, `.${name}.tmp-${crypto.randomUUID().slice(0, 8)}`);
      await Deno.writeTextFile(tmp, text);
      await Deno.rename(tmp, join(out, name));
    }
    const files = await _filesOf(out, ["checkpoint-*", "_*", "last-checkpoint/*"]);
    if (a.hubStrategy === "checkpoint") {
      files.push(...await _filesOf(checkpointDir, [], "last-checkpoint/"));
    } else if (a.hubStrategy === "all_checkpoints") {
      for await (const e of Deno.readDir(out)) {
        if (e.isDirectory && /^checkpoint-\d+$/.test(e.name)) {
          files.push(...await _filesOf(join(out, e.name), [], `${e.name}/`));
        }
      }
    }
    const staging = await _stage(out, files);
    this.#start(message, staging);
  }

  #start(message: string, staging: string): void {
    const record: PushRecord = { message, outcome: "running" };
    this.pushes.push(record);
    const prev = this.#inFlight ?? Promise.resolve();
    const job: Promise<void> = prev.then(async () => {
      try {
        record.commit = await uploadFolder(this.#client, this.repoId, staging, {
          commitMessage: message,
          revision: this.#args.hubRevision ?? undefined,
        });
        record.outcome = "done";
        if (record.commit.skipped) this.#log(`"${message}": nothing changed, no commit`);
      } catch (e) {
        record.outcome = "failed";
        record.error = (e as Error).message;
        this.#log(`push "${message}" failed (training goes on; the next push sends it): ${record.error}`);
      } finally {
        await Deno.remove(staging, { recursive: true }).catch(() => {});
        if (this.#inFlight === job) this.#inFlight = null;
      }
    });
    this.#inFlight = job;
  }

  /** Waits for the pushes in flight (their failures are logged, not thrown). */
  async wait(): Promise<void> {
    while (this.#inFlight) await this.#inFlight;
  }

  /**
   * The end of training: waits for every push, then pushes the output folder (without `checkpoint-*`)
   * with `commitMessage` and waits for it. Failures throw.
   */
  async pushFinal(commitMessage = "End of training"): Promise<CommitInfo> {
    await this.wait();
    const info = await uploadFolder(this.#client, this.repoId, this.#args.outputDir, {
      commitMessage,
      revision: this.#args.hubRevision ?? undefined,
      exclude: ["checkpoint-*", "_*"],
    });
    this.pushes.push({ message: commitMessage, outcome: "done", commit: info });
    this.#log(info.skipped ? `${this.url}: up to date` : `pushed "${commitMessage}": ${info.commitUrl}`);
    return info;
  }
}

/** Options of {@link pushToHub}. */
export interface PushToHubOptions extends HubContext {
  /** Default `Upload folder using webgpu-ner`. */
  commitMessage?: string;
  commitDescription?: string;
  /** false: snapshot the folder and return at once; the upload runs in the background. Default true. */
  blocking?: boolean;
  /** Create the repo as private (when it does not exist yet). */
  private?: boolean;
  /** Branch (default `main`). */
  revision?: string;
  /** Access token (default: HF_TOKEN, then the token file). */
  token?: string;
  /** Globs of paths to leave out (default `checkpoint-*`). */
  exclude?: string[];
}

/** A push running in the background (what `pushToHub(…, { blocking: false })` gives). */
export interface PushJob {
  /** Settles with the commit when the push is done (or with its error). */
  readonly result: Promise<CommitInfo>;
  /** Whether it has finished (successfully or not). */
  readonly done: boolean;
  /** Waits for the push: its {@link CommitInfo}, or its error thrown. */
  wait(): Promise<CommitInfo>;
}

const _queues = new Map<string, Promise<unknown>>();

/**
 * The custom loop's `repo.push_to_hub(...)`: creates the repo if needed and uploads `folder` (unchanged
 * files are not sent again; `checkpoint-*` is left out unless `exclude` says otherwise). With
 * `blocking: false` it resolves as soon as the folder is snapshotted, with a {@link PushJob}: the upload
 * runs in the background, one at a time per repo, and the loop can go on rewriting the folder.
 */
export function pushToHub(
  folder: string,
  repoId: string,
  opts: PushToHubOptions & { blocking: false },
): Promise<PushJob>;
export function pushToHub(folder: string, repoId: string, opts?: PushToHubOptions): Promise<CommitInfo>;
export async function pushToHub(
  folder: string,
  repoId: string,
  opts: PushToHubOptions = {},
): Promise<CommitInfo | PushJob> {
  const log = opts.log ?? ((m: string) => console.error(`hub: ${m}`));
  const client = new HubClient({ token: opts.token, env: opts.env, fetch: opts.fetch, onRetry: log });
  const exclude = opts.exclude ?? ["checkpoint-*"];
  const run = async (dir: string) => {
    const repo = await client.createRepo(repoId, { private: opts.private });
    if (opts.revision && opts.revision !== "main") await client.createBranch(repo.repoId, opts.revision);
    return await uploadFolder(client, repo.repoId, dir, {
      commitMessage: opts.commitMessage,
      commitDescription: opts.commitDescription,
      revision: opts.revision,
      exclude,
    });
  };
  if (opts.blocking !== false) return await run(folder);
  const staging = await _stage(folder, await _filesOf(folder, exclude));
  let done = false;
  const prev = _queues.get(repoId) ?? Promise.resolve();
  const result = prev.catch(() => {}).then(() => run(staging)).finally(async () => {
    done = true;
    await Deno.remove(staging, { recursive: true }).catch(() => {});
    if (_queues.get(repoId) === result) _queues.delete(repoId);
  });
  _queues.set(repoId, result);
  result.catch((e) => log(`push to ${repoId} failed: ${(e as Error).message}`));
  return {
    result,
    get done() {
      return done;
    },
    wait: () => result,
  };
}

const _CHECKPOINT_FILES = [
  "config.json",
  "model.safetensors",
  "optimizer.safetensors",
  "scheduler.json",
  "rng_state.json",
  "trainer_state.json",
  "training_args.json",
];

/**
 * Where to resume from: a local checkpoint folder as is, else a Hub repo id (`namespace/name`, with an
 * optional `@revision`) whose `last-checkpoint/` was pushed with the `checkpoint` strategy, downloaded
 * through the Hub cache. Returns the local folder.
 */
export async function resolveResumeCheckpoint(ref: string, ctx: HubContext = {}): Promise<string> {
  if (await Deno.stat(ref).then((s) => s.isDirectory, () => false)) return ref;
  const at = ref.lastIndexOf("@");
  const [id, revision] = at > 0 ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, "main"];
  if (!isValidModelId(id) || !id.includes("/")) {
    throw new Error(
      `--resume-from-checkpoint ${ref}: not a checkpoint folder, 'latest', nor a Hub repo id ` +
        "(namespace/name[@revision]) with a last-checkpoint/ folder",
    );
  }
  try {
    const got = await resolveModelFiles(id, _CHECKPOINT_FILES.map((f) => `last-checkpoint/${f}`), {
      revision,
      env: ctx.env,
      fetch: ctx.fetch,
    });
    ctx.log?.(`resuming from ${id}@${revision} last-checkpoint/ (cached in ${got.dir})`);
    return join(got.dir, "last-checkpoint");
  } catch (e) {
    if (!(e instanceof HubError)) throw e;
    throw new HubError(
      `cannot resume from the Hub repo ${id}@${revision}: ${e.message}. A repo holds last-checkpoint/ when ` +
        "it was trained with --push-to-hub --hub-strategy checkpoint",
    );
  }
}
