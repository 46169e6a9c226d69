/**
 * The toolchain runner behind `run-tests`, `lint` and `build`: detect the project's toolchain from its
 * marker files (deno, npm/pnpm/yarn, pytest, cargo, go, make), pick the command for an action, run it as a
 * subprocess in the workspace with a timeout (the whole process group is killed when it expires or the
 * caller aborts), keep a bounded tail of its output, and parse pass/fail counts where the runner prints
 * them (Deno, pytest, cargo, go, jest, vitest, mocha, node --test, TAP) and issue counts for linters.
 *
 * @module
 */

import { join } from "node:path";
import { UserError } from "../../core/errors.ts";

/** Paths `compileall` skips in a Python build (matched against `./relative/path`). */
const PY_BUILD_SKIP = String.raw`(^|/)(\.[^/]+|node_modules|venv|__pycache__|build|dist|site-packages)/`;

/** What to run. */
export type ToolchainAction = "test" | "lint" | "build";

/** The toolchains we know. */
export type ToolchainKind = "deno" | "npm" | "pnpm" | "yarn" | "pytest" | "cargo" | "go" | "make";

/** A detected toolchain and what gave it away. */
export interface Toolchain {
  kind: ToolchainKind;
  /** Marker file that identified it (workspace-relative). */
  marker: string;
  /** npm-style `scripts` (package.json) or `tasks` (deno.json), when present. */
  scripts: Record<string, string>;
  /** Makefile targets, when a Makefile exists. */
  makeTargets: string[];
}

/** Pass/fail counts parsed from a test runner's output. */
export interface TestCounts {
  total: number;
  passed: number;
  failed: number;
  skipped: number;
}

/** What one toolchain run produced. */
export interface ToolchainResult {
  action: ToolchainAction;
  toolchain: ToolchainKind;
  /** The argv that ran. */
  command: string[];
  exitCode: number;
  /** Exit code 0 and not timed out. */
  ok: boolean;
  timedOut: boolean;
  /** Aborted by the caller (Ctrl-C). */
  aborted: boolean;
  durationSec: number;
  /** Last part of stdout+stderr, interleaved as received (bounded). */
  output: string;
  /** Test counts when the runner printed them (test action). */
  counts?: TestCounts;
  /** passed/total when counts exist. */
  passRate?: number;
  /** Lint issue count when the linter printed one. */
  issues?: number;
}

/** Options for {@link runToolchain}. */
export interface RunToolchainOptions {
  /** Kill the run after this many milliseconds (default 600 000). */
  timeoutMs?: number;
  /** Abort (e.g. Ctrl-C). */
  signal?: AbortSignal;
  /** Receives output chunks as they arrive (live display). */
  onOutput?: (text: string) => void;
  /** Force a toolchain instead of detecting one. */
  toolchain?: ToolchainKind;
  /** Extra arguments appended to the command. */
  extraArgs?: string[];
  /** Bytes of output kept for the result and parsing (default 256 KiB). */
  maxOutputBytes?: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  try {
    const text = await Deno.readTextFile(path);
    // deno.jsonc may carry comments: strip line and block comments outside strings (good enough for tasks).
    const stripped = path.endsWith(".jsonc")
      ? text.replace(/\/\*[\s\S]*?\*\/|(^|[^:"])\/\/.*$/gm, "$1")
      : text;
    const parsed = JSON.parse(stripped);
    return typeof parsed === "object" && parsed !== null ? parsed : null;
  } catch {
    return null;
  }
}

function stringRecord(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof v === "string") out[k] = v;
      else if (
        typeof v === "object" && v !== null && typeof (v as { command?: unknown }).command === "string"
      ) {
        out[k] = (v as { command: string }).command;
      }
    }
  }
  return out;
}

async function makeTargets(root: string): Promise<{ marker: string; targets: string[] } | null> {
  for (const name of ["GNUmakefile", "Makefile", "makefile"]) {
    try {
      const text = await Deno.readTextFile(join(root, name));
      const targets = [...text.matchAll(/^([A-Za-z0-9_.-]+)\s*:(?!=)/gm)].map((m) => m[1]);
      return { marker: name, targets: [...new Set(targets)] };
    } catch { /* next */ }
  }
  return null;
}

async function hasPythonTests(root: string): Promise<boolean> {
  for (const dir of ["tests", "test"]) {
    try {
      for await (const e of Deno.readDir(join(root, dir))) {
        if (e.isFile && /^test_.*\.py$|_test\.py$/.test(e.name)) return true;
      }
    } catch { /* missing */ }
  }
  try {
    for await (const e of Deno.readDir(root)) if (e.isFile && /^test_.*\.py$/.test(e.name)) return true;
  } catch { /* unreadable */ }
  return false;
}

/**
 * Detects the workspace's toolchain, first marker wins: `deno.json[c]`, `package.json` (pnpm/yarn by lock
 * file, else npm), `Cargo.toml`, `go.mod`, Python (`pyproject.toml`, `setup.py`, `setup.cfg`,
 * `pytest.ini`, `tox.ini`, or `test_*.py` files), then a Makefile. Returns null when nothing matches.
 */
export async function detectToolchain(root: string): Promise<Toolchain | null> {
  const make = await makeTargets(root);
  const base = { makeTargets: make?.targets ?? [] };
  for (const name of ["deno.json", "deno.jsonc"]) {
    if (await exists(join(root, name))) {
      const json = await readJson(join(root, name));
      return { kind: "deno", marker: name, scripts: stringRecord(json?.tasks), ...base };
    }
  }
  if (await exists(join(root, "package.json"))) {
    const json = await readJson(join(root, "package.json"));
    const scripts = stringRecord(json?.scripts);
    const pm = typeof json?.packageManager === "string" ? json.packageManager.split("@")[0] : "";
    const kind: ToolchainKind = pm === "pnpm" || await exists(join(root, "pnpm-lock.yaml"))
      ? "pnpm"
      : pm === "yarn" || await exists(join(root, "yarn.lock"))
      ? "yarn"
      : "npm";
    return { kind, marker: "package.json", scripts, ...base };
  }
  if (await exists(join(root, "Cargo.toml"))) {
    return { kind: "cargo", marker: "Cargo.toml", scripts: {}, ...base };
  }
  if (await exists(join(root, "go.mod"))) return { kind: "go", marker: "go.mod", scripts: {}, ...base };
  for (const name of ["pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini"]) {
    if (await exists(join(root, name))) return { kind: "pytest", marker: name, scripts: {}, ...base };
  }
  if (await hasPythonTests(root)) return { kind: "pytest", marker: "tests/test_*.py", scripts: {}, ...base };
  if (make) return { kind: "make", marker: make.marker, scripts: {}, ...base };
  return null;
}

/** Finds an executable on PATH. */
export function which(name: string): string | null {
  const path = Deno.env.get("PATH") ?? "";
  for (const dir of path.split(":")) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      const info = Deno.statSync(candidate);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111)) return candidate;
    } catch { /* next */ }
  }
  return null;
}

function denoBinary(): string {
  if (which("deno")) return "deno";
  const exe = Deno.execPath();
  if (/deno(\.exe)?$/.test(exe)) return exe;
  throw new UserError("deno is not on PATH: install Deno (https://deno.com) to run this project's tasks");
}

function pythonBinary(): string {
  const py = which("python3") ?? which("python");
  if (!py) {
    throw new UserError("python3 is not on PATH: install Python 3 and pytest to run this project's tests");
  }
  return py;
}

/**
 * The command for an action on a toolchain, or a {@link UserError} saying why there is none and what to
 * configure. Project scripts win (`deno task test`, `npm test`, `make lint`, …).
 */
export function toolchainCommand(tc: Toolchain, action: ToolchainAction): string[] {
  const script = tc.scripts[action] !== undefined
    ? action
    : action === "build" && tc.scripts.check !== undefined && tc.kind === "deno"
    ? "check"
    : undefined;
  const missing = (hint: string): never => {
    throw new UserError(`no ${action} command for this ${tc.kind} project (${tc.marker}): ${hint}`);
  };
  switch (tc.kind) {
    case "deno":
      if (script) return [denoBinary(), "task", script];
      if (action === "test") return [denoBinary(), "test", "-A"];
      if (action === "lint") return [denoBinary(), "lint"];
      return [denoBinary(), "check", "."];
    case "npm":
    case "pnpm":
    case "yarn": {
      const pm = tc.kind;
      if (!which(pm)) throw new UserError(`${pm} is not on PATH: install it to run this project's scripts`);
      if (action === "test" && tc.scripts.test !== undefined) return [pm, "test"];
      if (script) return [pm, "run", script];
      if (action === "lint") return missing(`add a "lint" script to package.json (e.g. "eslint .")`);
      if (action === "build") return missing(`add a "build" script to package.json`);
      return missing(`add a "test" script to package.json (e.g. "node --test")`);
    }
    case "cargo":
      if (action === "test") return ["cargo", "test"];
      if (action === "lint") return ["cargo", "clippy", "--quiet"];
      return ["cargo", "build"];
    case "go":
      if (action === "test") return ["go", "test", "-v", "./..."];
      if (action === "lint") return ["go", "vet", "./..."];
      return ["go", "build", "./..."];
    case "pytest":
      if (action === "test") return [pythonBinary(), "-m", "pytest", "-q"];
      if (action === "lint") {
        if (which("ruff")) return ["ruff", "check", "."];
        if (which("flake8")) return ["flake8", "."];
        return missing("install ruff (pip install ruff) or flake8");
      }
      // Skip hidden folders (dspy-code's own .dspy_patches backups, .venv, .git), virtualenvs and vendored
      // or generated trees: they are not the project's code, and an old backup must not fail the build.
      return [pythonBinary(), "-m", "compileall", "-q", "-x", PY_BUILD_SKIP, "."];
    case "make":
      if (tc.makeTargets.includes(action)) return ["make", action];
      if (action === "test" && tc.makeTargets.includes("check")) return ["make", "check"];
      if (action === "build") return ["make"];
      return missing(`add a '${action}:' target to the Makefile`);
  }
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

function lastInt(text: string, re: RegExp): number | undefined {
  const all = [...text.matchAll(re)];
  return all.length ? Number(all[all.length - 1][1]) : undefined;
}

function sumInts(text: string, re: RegExp): number {
  let sum = 0;
  for (const m of text.matchAll(re)) sum += Number(m[1]);
  return sum;
}

function counts(passed: number, failed: number, skipped = 0): TestCounts {
  return { total: passed + failed + skipped, passed, failed, skipped };
}

/**
 * Parses pass/fail counts from test output. Understands Deno (`ok | 9 passed | 1 failed`), pytest
 * (`3 passed, 1 failed, 2 skipped in 0.1s`), cargo (`test result: ok. 3 passed; 0 failed; 1 ignored`,
 * summed over crates), go (`--- PASS`/`--- FAIL` lines), jest (`Tests: 1 failed, 5 passed, 6 total`),
 * vitest (`Tests  1 failed | 5 passed (6)`), mocha (`5 passing`, `1 failing`), node --test / TAP
 * (`# pass 5`, `# fail 1`). Returns undefined when none matches.
 */
export function parseTestCounts(raw: string): TestCounts | undefined {
  const text = raw.replace(ANSI, "");
  // Deno: "ok | 9 passed (3 steps) | 1 failed | 2 ignored (38ms)" / "FAILED | 9 passed | 1 failed".
  const deno = [
    ...text.matchAll(
      /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/gm,
    ),
  ];
  if (deno.length) {
    const m = deno[deno.length - 1];
    return counts(Number(m[1]), Number(m[2]), Number(m[3] ?? 0));
  }
  // cargo: one "test result:" line per test binary.
  if (/^test result: /m.test(text)) {
    return counts(
      sumInts(text, /^test result: \w+\. (\d+) passed/gm),
      sumInts(text, /^test result: \w+\. \d+ passed; (\d+) failed/gm),
      sumInts(text, /^test result: \w+\. \d+ passed; \d+ failed; (\d+) ignored/gm),
    );
  }
  // jest: "Tests:       1 failed, 5 passed, 6 total".
  const jest = /^Tests:\s+(.*\d+ total)/m.exec(text);
  if (jest) {
    const part = jest[1];
    const get = (w: string) => Number(new RegExp(`(\\d+) ${w}`).exec(part)?.[1] ?? 0);
    return counts(get("passed"), get("failed"), get("skipped") + get("todo"));
  }
  // vitest: " Tests  1 failed | 5 passed (6)".
  const vitest = /^\s*Tests\s+((?:\d+ \w+(?: \| )?)+)\s*\((\d+)\)/m.exec(text);
  if (vitest) {
    const get = (w: string) => Number(new RegExp(`(\\d+) ${w}`).exec(vitest[1])?.[1] ?? 0);
    return counts(get("passed"), get("failed"), get("skipped") + get("todo"));
  }
  // pytest: "== 3 passed, 1 failed, 2 skipped in 0.12s ==" or "3 passed in 0.1s" (-q).
  const pytest = [
    ...text.matchAll(
      /^=*\s*((?:\d+ (?:passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)(?:, )?)+) in [\d.]+s/gm,
    ),
  ];
  if (pytest.length) {
    const line = pytest[pytest.length - 1][1];
    const get = (w: string) => Number(new RegExp(`(\\d+) ${w}`).exec(line)?.[1] ?? 0);
    return counts(
      get("passed") + get("xpassed"),
      get("failed") + get("errors?"),
      get("skipped") + get("xfailed"),
    );
  }
  if (/^no tests ran in [\d.]+s/m.test(text)) return counts(0, 0);
  // node --test / TAP summary.
  const tapPass = lastInt(text, /^# pass (\d+)/gm);
  const tapFail = lastInt(text, /^# fail (\d+)/gm);
  if (tapPass !== undefined || tapFail !== undefined) {
    return counts(tapPass ?? 0, tapFail ?? 0, lastInt(text, /^# skip(?:ped)? (\d+)/gm) ?? 0);
  }
  // mocha.
  const passing = lastInt(text, /^\s*(\d+) passing/gm);
  if (passing !== undefined) {
    return counts(
      passing,
      lastInt(text, /^\s*(\d+) failing/gm) ?? 0,
      lastInt(text, /^\s*(\d+) pending/gm) ?? 0,
    );
  }
  // go test -v.
  const goPass = (text.match(/^\s*--- PASS: /gm) ?? []).length;
  const goFail = (text.match(/^\s*--- FAIL: /gm) ?? []).length;
  const goSkip = (text.match(/^\s*--- SKIP: /gm) ?? []).length;
  if (goPass + goFail + goSkip > 0) return counts(goPass, goFail, goSkip);
  return undefined;
}

/**
 * Parses a linter's issue count: Deno (`Found 3 problems`), eslint (`✖ 3 problems`), ruff (`Found 3
 * errors`), flake8/go vet (one `file:line:` per issue), clippy (`warning:`/`error:` lines).
 */
export function parseLintIssues(raw: string, exitCode: number): number | undefined {
  const text = raw.replace(ANSI, "");
  const found = lastInt(text, /Found (\d+) (?:problems?|errors?)/g);
  if (found !== undefined) return found;
  const eslint = lastInt(text, /✖ (\d+) problems?/g);
  if (eslint !== undefined) return eslint;
  if (/All checks passed!|^Checked \d+ files?$/m.test(text) && exitCode === 0) return 0;
  const clippy = (text.match(/^(?:warning|error)(?:\[\w+\])?: /gm) ?? []).filter((l) =>
    !/generated \d+ warning/.test(l)
  );
  if (clippy.length) return clippy.length;
  const located = (text.match(/^[^\s:][^:\n]*:\d+:(?:\d+:)? /gm) ?? []).length;
  if (located) return located;
  return exitCode === 0 ? 0 : undefined;
}

/**
 * Runs an action's command in the workspace. Output streams to `onOutput` and is kept (bounded); the run
 * is killed (SIGTERM, then SIGKILL after 2 s, whole process group) on timeout or abort.
 *
 * @example
 * ```ts
 * const r = await runToolchain(ws, "test", { timeoutMs: 120_000 });
 * if (r.counts) console.log(`${r.counts.passed}/${r.counts.total} passed`);
 * ```
 */
export async function runToolchain(
  root: string,
  action: ToolchainAction,
  options: RunToolchainOptions = {},
): Promise<ToolchainResult> {
  let tc = await detectToolchain(root);
  if (options.toolchain) {
    tc = {
      kind: options.toolchain,
      marker: "(forced)",
      scripts: tc?.scripts ?? {},
      makeTargets: tc?.makeTargets ?? [],
    };
  }
  if (!tc) {
    throw new UserError(
      `no toolchain found in ${root}: expected deno.json, package.json, Cargo.toml, go.mod, pyproject.toml/pytest ` +
        "files or a Makefile",
    );
  }
  const command = [...toolchainCommand(tc, action), ...(options.extraArgs ?? [])];
  const bin = command[0];
  if (!bin.includes("/") && !which(bin)) {
    throw new UserError(`${bin} is not on PATH: install it to ${action} this ${tc.kind} project`);
  }
  const result = await runCommand(command, root, options);
  const out: ToolchainResult = {
    action,
    toolchain: tc.kind,
    command,
    ...result,
    ok: result.exitCode === 0 && !result.timedOut && !result.aborted,
  };
  if (action === "test") {
    const c = parseTestCounts(result.output);
    if (c) {
      out.counts = c;
      if (c.passed + c.failed > 0) out.passRate = c.passed / (c.passed + c.failed);
    }
  }
  if (action === "lint") out.issues = parseLintIssues(result.output, result.exitCode);
  return out;
}

/** Runs a command with timeout/abort handling and a bounded output tail. */
export async function runCommand(
  command: string[],
  cwd: string,
  options: RunToolchainOptions = {},
): Promise<Pick<ToolchainResult, "exitCode" | "timedOut" | "aborted" | "durationSec" | "output">> {
  const started = performance.now();
  const maxBytes = options.maxOutputBytes ?? 256 * 1024;
  // A new session makes the child a process-group leader, so a timeout kills its children too.
  const useSetsid = Deno.build.os !== "windows" && which("setsid") !== null;
  const argv = useSetsid ? ["setsid", ...command] : command;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { CI: "1", NO_COLOR: "1", FORCE_COLOR: "0" },
    }).spawn();
  } catch (err) {
    throw new UserError(`cannot run ${command[0]}: ${(err as Error).message}`);
  }
  let tail = "";
  const decoder = new TextDecoder();
  const take = (chunk: Uint8Array) => {
    const text = decoder.decode(chunk, { stream: true });
    options.onOutput?.(text);
    tail += text;
    if (tail.length > maxBytes * 2) tail = tail.slice(-maxBytes);
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) take(chunk);
  };
  let timedOut = false, aborted = false;
  const kill = (sig: Deno.Signal) => {
    try {
      if (useSetsid) Deno.kill(-child.pid, sig);
      else child.kill(sig);
    } catch { /* already gone */ }
  };
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    kill("SIGTERM");
    killTimer = setTimeout(() => kill("SIGKILL"), 2000);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    stop();
  }, options.timeoutMs ?? 600_000);
  const onAbort = () => {
    aborted = true;
    stop();
  };
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const [status] = await Promise.all([child.status, pump(child.stdout), pump(child.stderr)]);
    if (tail.length > maxBytes) tail = tail.slice(-maxBytes);
    const exitCode = timedOut ? 124 : aborted ? 130 : status.code;
    return { exitCode, timedOut, aborted, durationSec: (performance.now() - started) / 1000, output: tail };
  } finally {
    clearTimeout(timer);
    if (killTimer !== undefined) clearTimeout(killTimer);
    options.signal?.removeEventListener("abort", onAbort);
  }
}
