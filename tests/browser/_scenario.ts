/**
 * The run done both in Deno (on mod.ts) and in the browser tab (on the bundle), so their numbers can be
 * compared: load the parity fixture from an http URL with `fromPretrained`, reproduce its golden logits,
 * then train it a few AdamW steps and report every loss and the final logits. The function is sent to
 * the page as source text, so it uses nothing but its arguments.
 * @module
 */

/** What {@link trainScenario} reports. */
export interface ScenarioResult {
  adapter: string;
  goldenLogitsMaxDiff: number;
  goldenLossDiff: number;
  losses: number[];
  logits: number[];
}

/** Runs the scenario against `lib` (mod.ts's exports or the bundle's). */
// deno-lint-ignore no-explicit-any
export async function trainScenario(lib: any, fixtureUrl: string, steps: number): Promise<ScenarioResult> {
  const gpu = await lib.initGpu();
  const { model } = await lib.fromPretrained(fixtureUrl);
  const golden = await lib.readSafetensors(fixtureUrl.replace(/\/?$/, "/golden.safetensors"));
  // deno-lint-ignore no-explicit-any
  const g = (n: string): any => golden.tensors.get(n);
  const [B, T] = g("input_ids").shape;
  const batch = {
    batch: B,
    seqLen: T,
    inputIds: lib.toInt32(g("input_ids"), "input_ids"),
    attentionMask: lib.toInt32(g("attention_mask"), "attention_mask"),
    labels: lib.toInt32(g("labels"), "labels"),
  };
  model.train();
  const [logits0, loss0] = await lib.tidy(() => {
    const out = model.forward(batch);
    return lib.readAll([out.logits, out.loss]);
  });
  const want = lib.toFloat32(g("logits"));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(logits0[i] - want[i]));
  const names = [...model.params.keys()];
  const opt = new lib.AdamW(
    names.map((n: string) => ({ param: model.params.get(n), weightDecay: model.decays(n) ? 0.01 : 0 })),
    { lr: 1e-3 },
  );
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const [loss] = await lib.tidy(async () => {
      const out = model.forward(batch);
      lib.backward(out.loss);
      return await lib.readAll([out.loss]);
    });
    losses.push(loss[0]);
    opt.step();
    opt.zeroGrad();
  }
  const [logits] = await lib.tidy(() => lib.readAll([model.forward(batch).logits]));
  const info = gpu?.adapterInfo ?? gpu?.info ?? {};
  return {
    adapter: `${info.vendor ?? ""} ${info.architecture ?? ""} ${info.description ?? ""}`.trim(),
    goldenLogitsMaxDiff: worst,
    goldenLossDiff: Math.abs(loss0[0] - lib.toFloat32(g("loss"))[0]),
    losses,
    logits: Array.from(logits as Float32Array),
  };
}

/** The Trainer on 16 CoNLL-2003 sentences (4 steps, a log entry per step), writing nothing: its losses. */
export async function trainerScenario(
  // deno-lint-ignore no-explicit-any
  lib: any,
  fixtureUrl: string,
  dataUrl: string,
): Promise<{ losses: number[]; progressSteps: number[]; writes: boolean }> {
  await lib.initGpu();
  const raw = await lib.loadConll2003(`${dataUrl}/conll2003/`);
  const tokenizer = await lib.loadTokenizer(`${dataUrl}/bert-base-cased/`);
  const train = lib.tokenizeAndAlign({ ...raw.train, rows: raw.train.rows.slice(0, 16) }, tokenizer).examples;
  const { model } = await lib.fromPretrained(fixtureUrl);
  const losses: number[] = [];
  const progressSteps: number[] = [];
  const trainer = new lib.Trainer({
    model,
    args: {
      ...lib.DEFAULT_TRAINING_ARGS,
      outputDir: "browser-run",
      perDeviceTrainBatchSize: 4,
      numTrainEpochs: 1,
      learningRate: 1e-3,
      loggingSteps: 1,
      evalStrategy: "no",
      saveStrategy: "no",
    },
    train,
    padId: tokenizer.padId,
    // deno-lint-ignore no-explicit-any
    onLog: (e: any) => typeof e.loss === "number" && losses.push(e.loss),
    onProgress: (p: { step: number }) => progressSteps.push(p.step),
    progress: false,
    writeFiles: false,
    saveFinal: false,
  });
  await trainer.train();
  return { losses, progressSteps, writes: false };
}

/** What {@link trainerStoreScenario} reports. */
export interface StoreScenarioResult {
  /** Every file under the output folder after the run (relative paths). */
  files: string[];
  /** Entries of the output folder (no `*.tmp-*` or `.commit` may be left). */
  entries: string[];
  losses: number[];
  /** Max |Δ| of the logits: the final folder reloaded from the store, and checkpoint-4, vs the model. */
  finalDiff: number;
  checkpointDiff: number;
  /** savePretrained with no store (without Deno: the default MemoryStore), reloaded by path. */
  defaultStoreFiles: string[];
  defaultStoreDiff: number;
  /** After recoverCommits of a folder where a page closed mid-commit: its entries and the target's files. */
  recovered: { handled: number; entries: string[]; files: string[]; b: string };
}

/**
 * The Trainer writing checkpoints and its final folder into a store (`"opfs"`: an OpfsStore, `"memory"`:
 * a MemoryStore): 4 steps, a checkpoint every 2 with saveTotalLimit 1; then the store's files, and the
 * logits of the folders reloaded with `fromPretrained(dir, { store })` against the in-memory model's.
 */
export async function trainerStoreScenario(
  // deno-lint-ignore no-explicit-any
  lib: any,
  fixtureUrl: string,
  dataUrl: string,
  kind: "opfs" | "memory",
): Promise<StoreScenarioResult> {
  await lib.initGpu();
  const raw = await lib.loadConll2003(`${dataUrl}/conll2003/`);
  const tokenizer = await lib.loadTokenizer(`${dataUrl}/bert-base-cased/`);
  const train = lib.tokenizeAndAlign({ ...raw.train, rows: raw.train.rows.slice(0, 16) }, tokenizer).examples;
  const { model } = await lib.fromPretrained(fixtureUrl);
  const store = kind === "opfs" ? new lib.OpfsStore() : new lib.MemoryStore();
  const out = "store-run";
  await store.remove(out); // OPFS outlives the page: start clean
  const losses: number[] = [];
  const trainer = new lib.Trainer({
    model,
    args: {
      ...lib.DEFAULT_TRAINING_ARGS,
      outputDir: out,
      perDeviceTrainBatchSize: 4,
      maxSteps: 4,
      learningRate: 1e-3,
      loggingSteps: 1,
      evalStrategy: "no",
      saveStrategy: "steps",
      saveSteps: 2,
      saveTotalLimit: 1,
    },
    train,
    padId: tokenizer.padId,
    tokenizerDir: `${dataUrl}/bert-base-cased/`,
    // deno-lint-ignore no-explicit-any
    onLog: (e: any) => typeof e.loss === "number" && losses.push(e.loss),
    progress: false,
    store,
  });
  await trainer.train();
  const golden = await lib.readSafetensors(fixtureUrl.replace(/\/?$/, "/golden.safetensors"));
  // deno-lint-ignore no-explicit-any
  const g = (n: string): any => golden.tensors.get(n);
  const [B, T] = g("input_ids").shape;
  const batch = {
    batch: B,
    seqLen: T,
    inputIds: lib.toInt32(g("input_ids"), "input_ids"),
    attentionMask: lib.toInt32(g("attention_mask"), "attention_mask"),
  };
  // deno-lint-ignore no-explicit-any
  const logitsOf = async (m: any): Promise<Float32Array> => {
    m.eval();
    const [l] = await lib.noGrad(() => lib.tidy(() => lib.readAll([m.forward(batch).logits])));
    return l as Float32Array;
  };
  const want = await logitsOf(model);
  // deno-lint-ignore no-explicit-any
  const diffOf = async (m: any): Promise<number> => {
    const got = await logitsOf(m);
    m.dispose();
    let worst = got.length === want.length ? 0 : Infinity;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    return worst;
  };
  const finalDiff = await diffOf((await lib.fromPretrained(out, { store })).model);
  const checkpointDiff = await diffOf((await lib.fromPretrained(`${out}/checkpoint-4`, { store })).model);
  // Without a store option: Deno's file system in Deno, the default MemoryStore in a tab.
  const plain = kind === "memory" ? store : undefined;
  await lib.savePretrained(model, "tab-saved/tiny", { store: plain });
  const defaultStoreFiles = await lib.listFiles(plain ?? lib.defaultStore(), "tab-saved/tiny");
  const defaultStoreDiff = await diffOf((await lib.fromPretrained("tab-saved/tiny", { store: plain })).model);
  // A page closed mid-commit in the same store: the record written, one of two files moved in; beside it a
  // stage that was never decided. recoverCommits finishes the first and drops the second.
  const enc = (s: string) => new TextEncoder().encode(s);
  await store.remove("cut");
  await store.writeFile("cut/dir/old_only.txt", enc("old"));
  await store.writeFile("cut/dir/a.txt", enc("new a"));
  await store.writeFile("cut/dir.tmp-abc123/b.txt", enc("new b"));
  const record = { target: "cut/dir", files: ["a.txt", "b.txt"], replace: true };
  await store.writeFile("cut/dir.tmp-abc123.commit", enc(JSON.stringify(record)));
  await store.writeFile("cut/x.tmp-def456/f", enc("partial"));
  const handled = (await lib.recoverCommits(store, "cut")).length;
  const recovered = {
    handled,
    entries: await store.list("cut"),
    files: await lib.listFiles(store, "cut/dir"),
    b: new TextDecoder().decode(await store.readFile("cut/dir/b.txt")),
  };
  await store.remove("cut");
  const result = {
    recovered,
    files: await lib.listFiles(store, out),
    entries: await store.list(out),
    losses,
    finalDiff,
    checkpointDiff,
    defaultStoreFiles,
    defaultStoreDiff,
  };
  trainer.optimizer.dispose();
  model.dispose();
  await store.remove(out);
  return result;
}
