/**
 * Ctrl-C for training runs: the first SIGINT asks the loop to stop after the current step (it then saves
 * a checkpoint and the command exits with 130, as a shell expects of an interrupted program); a second one
 * aborts at once (exit 130, nothing more saved). A terminal Ctrl-C under `deno task` reaches the process
 * twice (from the terminal's process group and forwarded by `deno task`), so a second signal within
 * {@link SAME_KEYPRESS_MS} of the first counts as the same keypress.
 * @module
 */

/** Signals closer together than this are one keypress delivered twice. */
export const SAME_KEYPRESS_MS = 1000;

/** Exit status of a run stopped by SIGINT (128 + 2). */
export const SIGINT_EXIT_CODE = 130;

/** Options of {@link sigintHandler} (tests inject a clock and an exit). */
export interface SigintOptions {
  now?: () => number;
  abort?: () => void;
  log?: (line: string) => void;
}

/**
 * A SIGINT listener: the first call runs `requestStop`; a later call at least {@link SAME_KEYPRESS_MS}
 * after the first aborts the process with exit code 130.
 */
export function sigintHandler(requestStop: () => void, opts: SigintOptions = {}): () => void {
  const now = opts.now ?? (() => performance.now());
  const log = opts.log ?? ((l: string) => console.error(l));
  const abort = opts.abort ?? (() => Deno.exit(SIGINT_EXIT_CODE));
  let first: number | null = null;
  return () => {
    const t = now();
    if (first === null) {
      first = t;
      log("train: Ctrl-C: stopping after this step and saving a checkpoint (Ctrl-C again to abort at once)");
      requestStop();
    } else if (t - first >= SAME_KEYPRESS_MS) {
      log("train: second Ctrl-C: aborting without saving");
      abort();
    }
  };
}

/** Lets pending signal listeners run (one macrotask turn), so a stop request is seen within a step. */
export function yieldToSignals(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
