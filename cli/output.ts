/**
 * Terminal output for commands: lines to stdout, errors to stderr, colour and boxes only when the output is
 * a terminal and `--plain`/`CI` are not set, tables, and progress bars (stderr, TTY only). Writes are
 * synchronous so a line is flushed before the caller moves on (the bus acknowledges a message only after
 * its line is out), and a closed pipe ends the process quietly instead of crashing it.
 *
 * @module
 */

const encoder = new TextEncoder();

/** ANSI styles; every function returns its input unchanged in plain mode. */
export interface Colors {
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  magenta(s: string): string;
  cyan(s: string): string;
}

/** A progress bar handle from {@link Output.progress}. */
export interface Progress {
  /** Advances by `n` (default 1) and optionally changes the label. */
  tick(n?: number, label?: string): void;
  /** Sets the total when it becomes known later. */
  setTotal(total: number): void;
  /** Clears the bar (TTY) and prints a one-line summary in plain mode when `summary` is given. */
  done(summary?: string): void;
}

/** Where a command writes. Create with {@link createOutput}. */
export interface Output {
  /** No colour, no boxes, no progress animation. */
  readonly plain: boolean;
  /** The user asked for JSON output (`--json`). */
  readonly json: boolean;
  /** Styles (identity functions in plain mode). */
  readonly c: Colors;
  /** Writes text as-is to stdout. */
  write(text: string): void;
  /** Writes each argument as a line to stdout. */
  print(...lines: string[]): void;
  /** Writes one JSON value as a line to stdout. */
  printJson(value: unknown): void;
  /** Writes an error line to stderr (`error: ...`). */
  error(message: string): void;
  /** Writes a warning line to stderr. */
  warn(message: string): void;
  /** Writes an informational line to stderr (does not pollute stdout pipelines). */
  info(message: string): void;
  /** Prints an aligned table; numbers are right-aligned. */
  table(headers: string[], rows: (string | number)[][]): void;
  /** Prints a titled box of `label: value` lines (a plain list in plain mode). */
  panel(title: string, rows: [string, string][]): void;
  /** Starts a progress bar on stderr. */
  progress(total: number, label: string): Progress;
}

/** Options for {@link createOutput}. */
export interface OutputOptions {
  plain?: boolean;
  json?: boolean;
  /** Replace stdout (tests, capturing). */
  stdout?: (text: string) => void;
  /** Replace stderr. */
  stderr?: (text: string) => void;
}

function writeAllSync(target: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  try {
    while (off < bytes.length) off += target.writeSync(bytes.subarray(off));
  } catch (err) {
    // The reader went away (`dspy-code tail | head`): stop quietly, as Unix tools do.
    if (err instanceof Deno.errors.BrokenPipe) Deno.exit(0);
    throw err;
  }
}

/** True when colour and animation should be off: not a terminal, `CI` set, or `NO_COLOR` set. */
export function shouldBePlain(): boolean {
  if (Deno.env.get("CI") || Deno.env.get("NO_COLOR")) return true;
  try {
    return !Deno.stdout.isTerminal();
  } catch {
    return true;
  }
}

const ANSI = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`;
const identity = (s: string) => s;

/** Strips ANSI escapes (for width computations). */
export function visibleLength(s: string): number {
  // deno-lint-ignore no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

/** Creates an {@link Output}. */
export function createOutput(options: OutputOptions = {}): Output {
  const plain = options.plain ?? shouldBePlain();
  const json = options.json ?? false;
  const out = options.stdout ?? ((t: string) => writeAllSync(Deno.stdout, t));
  const err = options.stderr ?? ((t: string) => writeAllSync(Deno.stderr, t));
  const c: Colors = plain
    ? {
      bold: identity,
      dim: identity,
      red: identity,
      green: identity,
      yellow: identity,
      blue: identity,
      magenta: identity,
      cyan: identity,
    }
    : {
      bold: ANSI(1, 22),
      dim: ANSI(2, 22),
      red: ANSI(31, 39),
      green: ANSI(32, 39),
      yellow: ANSI(33, 39),
      blue: ANSI(34, 39),
      magenta: ANSI(35, 39),
      cyan: ANSI(36, 39),
    };
  let stderrIsTty = false;
  try {
    stderrIsTty = !options.stderr && Deno.stderr.isTerminal();
  } catch { /* not a terminal */ }

  const self: Output = {
    plain,
    json,
    c,
    write: out,
    print: (...lines) => out(lines.map((l) => l + "\n").join("")),
    printJson: (value) => out(JSON.stringify(value) + "\n"),
    error: (message) => err(`${c.red("error:")} ${message}\n`),
    warn: (message) => err(`${c.yellow("warning:")} ${message}\n`),
    info: (message) => err(message + "\n"),
    table(headers, rows) {
      const cells = rows.map((r) => r.map((v) => String(v)));
      const widths = headers.map((h, i) =>
        Math.max(h.length, ...cells.map((r) => visibleLength(r[i] ?? "")))
      );
      const numeric = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"));
      const fmt = (r: string[]) =>
        r.map((v, i) => {
          const pad = " ".repeat(Math.max(0, widths[i] - visibleLength(v)));
          return numeric[i] ? pad + v : v + pad;
        }).join("  ").trimEnd();
      const lines = [c.bold(fmt(headers)), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(fmt)];
      self.print(...lines);
    },
    panel(title, rows) {
      const labelWidth = Math.max(0, ...rows.map(([l]) => l.length));
      const body = rows.map(([l, v]) => `${c.dim(l.padEnd(labelWidth))}  ${v}`);
      if (plain) {
        self.print(title, ...body.map((b) => "  " + b));
        return;
      }
      const width = Math.max(visibleLength(title) + 2, ...body.map(visibleLength)) + 2;
      const line = (s: string) => `│ ${s}${" ".repeat(width - visibleLength(s) - 2)} │`;
      self.print(
        `╭─ ${c.bold(title)} ${"─".repeat(Math.max(0, width - visibleLength(title) - 3))}╮`,
        ...body.map(line),
        `╰${"─".repeat(width)}╯`,
      );
    },
    progress(total, label) {
      return createProgress(total, label, !plain && stderrIsTty, err);
    },
  };
  return self;
}

function createProgress(total: number, label: string, animate: boolean, err: (t: string) => void): Progress {
  let done = 0;
  let lastDraw = 0;
  const started = performance.now();
  const draw = (force = false) => {
    if (!animate) return;
    const now = performance.now();
    if (!force && now - lastDraw < 80) return;
    lastDraw = now;
    const frac = total > 0 ? Math.min(1, done / total) : 0;
    const width = 28;
    const filled = Math.round(frac * width);
    const rate = done / Math.max(0.001, (now - started) / 1000);
    err(
      `\r\x1b[2K${label} [${"█".repeat(filled)}${"░".repeat(width - filled)}] ${done}/${total} ` +
        `${(frac * 100).toFixed(0)}% ${rate.toFixed(0)}/s`,
    );
  };
  draw(true);
  return {
    tick(n = 1, newLabel) {
      done += n;
      if (newLabel) label = newLabel;
      draw();
    },
    setTotal(t) {
      total = t;
      draw(true);
    },
    done(summary) {
      if (animate) err("\r\x1b[2K");
      if (summary) err(summary + "\n");
    },
  };
}
