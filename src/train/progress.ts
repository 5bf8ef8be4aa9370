/**
 * Training progress: a one-line bar redrawn in place on a TTY (steps, epoch, loss, learning rate,
 * tokens/s, ETA), or plain lines every few seconds when it is not a terminal (CI, pipes, logs). Progress
 * goes to stderr, as tqdm does, so stdout carries only results.
 * @module
 */

/** Values shown with each tick (evaluation passes only `tokens`). */
export interface ProgressInfo {
  epoch?: number;
  loss?: number | null;
  lr?: number;
  /** Tokens processed since the previous tick. */
  tokens: number;
}

/** Formats seconds as h:mm:ss or m:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return `${h ? h + ":" : ""}${mm}:${String(r).padStart(2, "0")}`;
}

/** One progress line's text (without the bar). */
export function progressText(
  step: number,
  total: number,
  info: ProgressInfo,
  tokPerSec: number,
  eta: number,
): string {
  const parts = [`${step}/${total}`];
  if (info.epoch !== undefined) parts.push(`epoch ${info.epoch.toFixed(2)}`);
  if (info.loss !== undefined) parts.push(`loss ${info.loss === null ? "-" : info.loss.toFixed(4)}`);
  if (info.lr !== undefined) parts.push(`lr ${info.lr.toExponential(2)}`);
  parts.push(`${Math.round(tokPerSec)} tok/s ETA ${formatDuration(eta)}`);
  return parts.join(" ");
}

/** A progress reporter for `total` steps. */
export class Progress {
  readonly #total: number;
  readonly #tty: boolean;
  readonly #start = performance.now();
  readonly #startStep: number;
  #lastPrint = 0;
  #tokens = 0;
  #write: (s: string) => void;
  readonly #label: string;

  /** `startStep` > 0 when resuming (ETA counts only steps of this run); `label` prefixes plain lines. */
  constructor(
    total: number,
    startStep = 0,
    opts: { tty?: boolean; write?: (s: string) => void; label?: string } = {},
  ) {
    this.#total = total;
    this.#label = opts.label ?? "train";
    this.#startStep = startStep;
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    const enc = new TextEncoder();
    this.#write = opts.write ?? ((s) => Deno.stderr.writeSync(enc.encode(s)));
  }

  /** Reports that `step` steps are done. */
  tick(step: number, info: ProgressInfo): void {
    this.#tokens += info.tokens;
    const now = performance.now();
    const elapsed = (now - this.#start) / 1000;
    const done = step - this.#startStep;
    const eta = done > 0 ? elapsed / done * (this.#total - step) : NaN;
    const text = progressText(step, this.#total, info, this.#tokens / Math.max(elapsed, 1e-9), eta);
    if (this.#tty) {
      if (now - this.#lastPrint < 100 && step < this.#total) return;
      const width = 24, filled = Math.round(width * step / this.#total);
      this.#write(`\r\x1b[2K${this.#label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${text}`);
    } else {
      if (now - this.#lastPrint < 5000 && step < this.#total && step !== this.#startStep + 1) return;
      this.#write(`${this.#label}: ${text}\n`);
    }
    this.#lastPrint = now;
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.#tty) this.#write("\n");
  }
}

/**
 * A download progress callback for `fromPretrained`/`resolveModelFiles`: `download <file> 12.3/440.0 MB`
 * redrawn on a TTY, or a line every few seconds (and at the end of each file) otherwise.
 */
export function downloadProgress(
  opts: { tty?: boolean; write?: (s: string) => void } = {},
): (p: { file: string; bytes: number; total: number | null }) => void {
  const tty = opts.tty ?? Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  const write = opts.write ?? ((s: string) => Deno.stderr.writeSync(enc.encode(s)));
  let last = -Infinity;
  return ({ file, bytes, total }) => {
    const now = performance.now();
    const done = total !== null && bytes >= total;
    if (!done && now - last < (tty ? 100 : 5000)) return;
    last = now;
    const mb = (b: number) => (b / 1e6).toFixed(1);
    const text = `download ${file} ${mb(bytes)}/${total === null ? "?" : mb(total)} MB`;
    write(tty ? `\r\x1b[2K${text}${done ? "\n" : ""}` : `${text}\n`);
  };
}
