/**
 * The one-button dev cycle: build → check → test → stack, as named, timed stages run in a Deno project
 * (the `--workspace`, which must hold a `deno.json`):
 *
 * | stage     | runs                                                                                       |
 * | --------- | ------------------------------------------------------------------------------------------ |
 * | `deps`    | `deno install`                                                                             |
 * | `check`   | `deno task check`                                                                          |
 * | `test`    | `deno task test`, or `deno test -A PATTERN` with `tests`                                   |
 * | `compose` | `compose config` on `docker/lightweight/docker-compose.yml`; when the validator says       |
 * |           | "environment must be a mapping", the env rewrite, validation of the rewritten file, and    |
 * |           | the later stages use it                                                                    |
 * | `build`   | `compose build`                                                                            |
 * | `up`      | `compose up -d`                                                                            |
 * | `health`  | every container healthy (or running, when it has no health check); Podman's pending        |
 * |           | checks are run on demand (without systemd it never runs them)                              |
 * | `status`  | `compose ps`, the final status table                                                       |
 *
 * `build`, `up`, `health` and `status` run only when a container engine answers; otherwise each says
 * "skipped: no container engine" and the cycle still succeeds.
 *
 * Each stage reports `[dev-cycle] stage NAME ok 3.2s` (or `FAILED (exit N)`, or `skipped: why`). The first
 * failing stage stops the cycle, whose exit code is that stage's. Every line (ours and the commands' output)
 * goes to `onLine`, to `.dspy_reports/dev_cycle.log` (the previous run's log is kept as `dev_cycle.log.1`) and
 * stage changes to the event log (`dev_cycle.*` actions on `agent.actions`, through the bus when one runs).
 *
 * Each command runs in its own process group. Aborting `signal` stops the cycle: SIGTERM to the whole group,
 * then SIGKILL after `killGraceMs` (10 s) if anything is left — children such as `docker` or a test server
 * included. Nothing is ever pushed; `commit: true` (the CLI's `--commit`) makes one local commit of the files
 * the cycle changed (never dspy-code's own state).
 *
 * @module
 */

import { join } from "node:path";
import { UsageError, UserError } from "../core/errors.ts";
import { emitAction } from "../core/events.ts";
import { fixComposeEnvFile } from "./compose_env.ts";
import {
  composeArgv,
  type ComposeCli,
  engineAnswers,
  findComposeCli,
  type StackFiles,
} from "./compose_stack.ts";

/** The stages, in order. */
export const STAGE_NAMES = ["deps", "check", "test", "compose", "build", "up", "health", "status"] as const;
/** A stage name. */
export type StageName = typeof STAGE_NAMES[number];
/** Stages that need a container engine. */
export const ENGINE_STAGES: readonly StageName[] = ["build", "up", "health", "status"];

/** A stage's state. */
export type StageState = "pending" | "running" | "ok" | "failed" | "skipped";

/** One stage as reported. */
export interface StageReport {
  name: StageName | "commit";
  state: StageState;
  /** Seconds the stage took (ok/failed). */
  seconds?: number;
  /** Why it was skipped or failed, or what it did. */
  detail?: string;
  /** Exit code of the command that failed. */
  code?: number;
}

/** Options for {@link runDevCycle}. */
export interface DevCycleOptions {
  /** The project folder (holds deno.json). */
  root: string;
  /** Run only these stages. */
  only?: StageName[];
  /** Skip these stages. */
  skip?: StageName[];
  /** Test files or folders for `deno test -A` instead of `deno task test`. */
  tests?: string;
  /** Make one local commit of the files the cycle changed (CLI only). */
  commit?: boolean;
  /** Receives every log line. */
  onLine?: (line: string) => void;
  /** Receives every stage change. */
  onStage?: (report: StageReport) => void;
  /** Aborting stops the cycle (process group: SIGTERM, then SIGKILL after `killGraceMs`). */
  signal?: AbortSignal;
  /** Milliseconds between SIGTERM and SIGKILL (default 10000). */
  killGraceMs?: number;
  /** The Deno executable for the stages (default: the running one). */
  deno?: string;
  /** The compose file (default `<root>/docker/lightweight/docker-compose.yml`). */
  composeFile?: string;
  /** How long the health stage waits for every container (default 180000 ms). */
  healthTimeoutMs?: number;
  /** The log file (default `<root>/.dspy_reports/dev_cycle.log`). */
  logFile?: string;
}

/** What a cycle did. */
export interface DevCycleResult {
  ok: boolean;
  /** 0, the failing stage's exit code, or 130 when stopped. */
  code: number;
  stages: StageReport[];
  /** Epoch seconds. */
  started: number;
  finished: number;
  /** True when stopped by the signal. */
  stopped: boolean;
  /** The log file written. */
  logFile: string;
  /** The compose file the stack stages used (the rewritten one after an env rewrite). */
  composeFile?: string;
  /** The commit made with `commit`, if any. */
  commitSha?: string;
}

/** The default log file of a project. */
export function devCycleLogFile(root: string): string {
  return join(root, ".dspy_reports", "dev_cycle.log");
}

/** Parses `--only`/`--skip` values (comma-separated, repeatable) into stage names, or a usage error. */
export function parseStageList(flag: string, values: string[] | string | undefined): StageName[] | undefined {
  if (values === undefined) return undefined;
  const names = (Array.isArray(values) ? values : [values]).flatMap((v) => v.split(",")).map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !(STAGE_NAMES as readonly string[]).includes(n));
  if (bad.length > 0 || names.length === 0) {
    throw new UsageError(
      `dev-cycle: ${flag} takes stage names from ${STAGE_NAMES.join(", ")}; ` +
        (bad.length ? `unknown: ${bad.join(", ")}` : "got none"),
    );
  }
  return names as StageName[];
}

/** Stage lines are prefixed like the original script's. */
const PREFIX = "[dev-cycle]";
// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

class StageFailure extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
  }
}

class Stopped extends Error {}

/** Sends a signal to a process group; false when nothing is left in it. */
function killGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** A small append-only log writer (lines are written in order; `close` flushes). */
class LogWriter {
  #file: Deno.FsFile | undefined;
  #chain: Promise<void> = Promise.resolve();
  #enc = new TextEncoder();
  static async open(path: string): Promise<LogWriter> {
    await Deno.mkdir(join(path, ".."), { recursive: true });
    // Each start keeps the previous run's log as `.1`.
    await Deno.rename(path, path + ".1").catch((err) => {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    });
    const w = new LogWriter();
    w.#file = await Deno.open(path, { create: true, write: true, truncate: true });
    return w;
  }
  write(line: string): void {
    const file = this.#file;
    if (!file) return;
    const bytes = this.#enc.encode(line + "\n");
    this.#chain = this.#chain.then(async () => {
      let n = 0;
      while (n < bytes.length) n += await file.write(bytes.subarray(n));
    }).catch(() => {});
  }
  async close(): Promise<void> {
    await this.#chain;
    this.#file?.close();
    this.#file = undefined;
  }
}

/** Runs the dev cycle. Resolves when it finished, failed or was stopped; throws only on bad options. */
export async function runDevCycle(options: DevCycleOptions): Promise<DevCycleResult> {
  const root = options.root;
  const hasDenoJson = await Deno.stat(join(root, "deno.json")).then((s) => s.isFile, () => false) ||
    await Deno.stat(join(root, "deno.jsonc")).then((s) => s.isFile, () => false);
  if (!hasDenoJson) {
    throw new UserError(`dev-cycle runs in a Deno project: no deno.json in ${root} (pass --workspace DIR)`);
  }
  const deno = options.deno ?? Deno.execPath();
  const graceMs = options.killGraceMs ?? 10_000;
  const logFile = options.logFile ?? devCycleLogFile(root);
  const log = await LogWriter.open(logFile);
  const signal = options.signal ?? new AbortController().signal;
  const selected = new Set<StageName>(options.only ?? STAGE_NAMES);
  for (const s of options.skip ?? []) selected.delete(s);

  const started = Date.now() / 1000;
  const stages: StageReport[] = STAGE_NAMES.map((name) => ({ name, state: "pending" }));
  if (options.commit) stages.push({ name: "commit", state: "pending" });
  const line = (text: string) => {
    log.write(text);
    options.onLine?.(text);
  };
  const say = (text: string) => line(`${PREFIX} ${text}`);
  const report = (r: StageReport) => {
    options.onStage?.({ ...r });
    emitAction("dev_cycle.stage", { ...r });
  };

  /** Runs one command in its own process group, streaming its output lines. Returns the exit code. */
  const exec = async (argv: string[], env: Record<string, string> = {}, cwd = root): Promise<number> => {
    if (signal.aborted) throw new Stopped();
    say(`$ ${argv.join(" ")}`);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        cwd,
        env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true, // its own process group: stop reaches every child it starts
      }).spawn();
    } catch (err) {
      throw new StageFailure(`cannot run ${argv[0]}: ${(err as Error).message}`, 127);
    }
    const pgid = child.pid;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const { promise: killed, resolve: onKilled } = Promise.withResolvers<void>();
    const onAbort = () => {
      say(`stop: SIGTERM to process group ${pgid}`);
      killGroup(pgid, "SIGTERM");
      killTimer = setTimeout(() => {
        if (killGroup(pgid, "SIGKILL")) say(`stop: still running after ${graceMs / 1000} s, sent SIGKILL`);
        onKilled();
      }, graceMs);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      let rest = "";
      const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
      try {
        while (true) {
          const { value, done } = await reader.read();
          if (done) break;
          const parts = (rest + value).split("\n");
          rest = parts.pop() ?? "";
          for (const p of parts) line(p.replace(/\r$/, "").replace(ANSI, ""));
        }
      } catch { /* the stream was cancelled */ }
      if (rest) line(rest.replace(ANSI, ""));
    };
    const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
    const status = await child.status;
    // Output ends when every holder of the pipes exits; a stopped cycle or a leftover background process
    // must not hold the stage open.
    const settled = await Promise.race([
      pumps.then(() => true),
      (signal.aborted ? killed : new Promise((r) => setTimeout(r, 2000))).then(() => false),
    ]);
    if (!settled) {
      if (!signal.aborted) say("ending processes the command left running (they hold its output open)");
      killGroup(pgid, "SIGTERM");
      await Promise.race([pumps, new Promise((r) => setTimeout(r, 1000))]);
      killGroup(pgid, "SIGKILL");
    }
    signal.removeEventListener("abort", onAbort);
    if (signal.aborted) {
      // Wait for the escalation so nothing of the group survives the stop.
      if (killTimer !== undefined && killGroup(pgid, "SIGTERM")) await killed;
      clearTimeout(killTimer);
      throw new Stopped();
    }
    return status.code;
  };

  const must = async (argv: string[], env?: Record<string, string>) => {
    const code = await exec(argv, env);
    if (code !== 0) throw new StageFailure(`${argv.slice(0, 3).join(" ")} exited with ${code}`, code);
  };

  let composeCli: ComposeCli | null | undefined;
  let engine: boolean | undefined;
  let files: StackFiles | undefined;
  const composeFile = options.composeFile ?? join(root, "docker", "lightweight", "docker-compose.yml");

  const stackFiles = async (file: string): Promise<StackFiles> => {
    const envFile = join(file, "..", ".env");
    const hasEnv = await Deno.stat(envFile).then((s) => s.isFile, () => false);
    return { composeFile: file, envFile: hasEnv ? envFile : undefined, env: {}, origin: "repository" };
  };
  const compose = (...args: string[]) => composeArgv(composeCli!, files!, ...args);

  /** Returns a skip reason, or undefined to run the stage. */
  const skipReason = async (name: StageName): Promise<string | undefined> => {
    if (!selected.has(name)) return options.only ? "not in --only" : "--skip";
    if (name === "compose" || ENGINE_STAGES.includes(name)) {
      if (!await Deno.stat(composeFile).then((s) => s.isFile, () => false)) {
        return `no compose file (${composeFile})`;
      }
      composeCli ??= await findComposeCli();
      if (!composeCli) return "no compose CLI (docker compose or docker-compose)";
      files ??= await stackFiles(composeFile);
    }
    if (ENGINE_STAGES.includes(name)) {
      engine ??= await engineAnswers();
      if (!engine) return "no container engine";
    }
    return undefined;
  };

  const stageBody: Record<StageName, () => Promise<string | void>> = {
    deps: () => must([deno, "install"]),
    check: () => must([deno, "task", "check"]),
    test: () =>
      must(options.tests ? [deno, "test", "-A", ...options.tests.split(/\s+/)] : [deno, "task", "test"]),
    compose: async () => {
      const argv = compose("config", "-q");
      say(`$ ${argv.join(" ")}`);
      const out = await new Deno.Command(argv[0], {
        args: argv.slice(1),
        cwd: join(composeFile, ".."),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(out.stderr).trim();
      if (out.success) return "compose config OK";
      for (const l of err.split("\n")) line(l);
      if (!/environment.*must be a mapping/i.test(err)) {
        throw new StageFailure(
          "compose config failed (not the environment-list error: fix the file)",
          out.code || 1,
        );
      }
      say("the validator rejects environment lists: rewriting them into mappings");
      const fixed = await fixComposeEnvFile(composeFile);
      say(`wrote ${fixed.out} (${fixed.blocks} environment lists, ${fixed.variables} variables)`);
      files = await stackFiles(fixed.out);
      const again = compose("config", "-q");
      say(`$ ${again.join(" ")}`);
      const check = await new Deno.Command(again[0], {
        args: again.slice(1),
        cwd: join(composeFile, ".."),
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).output();
      if (!check.success) {
        for (const l of new TextDecoder().decode(check.stderr).trim().split("\n")) line(l);
        throw new StageFailure(
          "the rewritten compose file is still invalid: update Compose to v2, or fix the file by hand",
          check.code || 1,
        );
      }
      return `using ${fixed.out}`;
    },
    build: () => must(compose("build")),
    up: () => must(compose("up", "-d")),
    health: async () => {
      const deadline = Date.now() + (options.healthTimeoutMs ?? 180_000);
      let last = "";
      while (true) {
        if (signal.aborted) throw new Stopped();
        const ids = await new Deno.Command(compose("ps", "-q")[0], {
          args: compose("ps", "-q").slice(1),
          cwd: join(composeFile, ".."),
          stdout: "piped",
          stderr: "null",
        }).output();
        const list = new TextDecoder().decode(ids.stdout).split("\n").map((s) => s.trim()).filter(Boolean);
        const states: { name: string; health: string; state: string }[] = [];
        for (const id of list) {
          const out = await new Deno.Command("docker", {
            args: [
              "inspect",
              "--format",
              "{{.Name}}|{{if .State.Health}}{{.State.Health.Status}}{{end}}|{{.State.Status}}",
              id,
            ],
            stdout: "piped",
            stderr: "null",
          }).output();
          // No health check: an empty status (Podman reports an empty Health object).
          const [name, health, state] = new TextDecoder().decode(out.stdout).trim().split("|");
          if (name) {
            states.push({ name: name.replace(/^\//, ""), health: health || "none", state: state ?? "" });
          }
        }
        // Podman without systemd never runs health checks by itself: run the pending ones on demand.
        const starting = states.filter((s) => s.health === "starting").map((s) => s.name);
        if (starting.length > 0 && await podmanCli()) {
          await Promise.all(
            starting.map((n) =>
              new Deno.Command("podman", { args: ["healthcheck", "run", n], stdout: "null", stderr: "null" })
                .output().catch(() => {})
            ),
          );
        }
        const bad = states.filter((s) =>
          !(s.health === "healthy" || (s.health === "none" && s.state === "running"))
        );
        const summary = states.map((s) => `${s.name}=${s.health === "none" ? s.state : s.health}`).join(" ");
        if (summary !== last) say(`health: ${summary || "no containers"}`);
        last = summary;
        if (states.length > 0 && bad.length === 0) {
          return `${states.length} container(s) healthy or running without a health check`;
        }
        if (bad.some((s) => s.health === "unhealthy" || s.state === "exited")) {
          throw new StageFailure(`unhealthy: ${bad.map((s) => s.name).join(", ")}`, 1);
        }
        if (Date.now() > deadline) {
          throw new StageFailure(
            `not healthy in time: ${bad.map((s) => s.name).join(", ") || "no containers"}`,
            1,
          );
        }
        await new Promise((r) => setTimeout(r, 2000));
      }
    },
    status: () => must(compose("ps")),
  };

  say(`start in ${root}: ${[...selected].join(", ") || "no stages"}${options.commit ? " + commit" : ""}`);
  emitAction("dev_cycle.start", { root, stages: [...selected], commit: Boolean(options.commit) });
  const before = options.commit ? await dirtyFiles(root) : undefined;
  let code = 0;
  let stopped = false;
  let commitSha: string | undefined;
  for (const report_ of stages) {
    if (report_.name === "commit") continue;
    const name = report_.name as StageName;
    if (signal.aborted) {
      stopped = true;
      break;
    }
    const reason = await skipReason(name);
    if (reason) {
      Object.assign(report_, { state: "skipped", detail: reason });
      say(`stage ${name} skipped: ${reason}`);
      report(report_);
      continue;
    }
    Object.assign(report_, { state: "running" });
    report(report_);
    const t0 = performance.now();
    try {
      const detail = await stageBody[name]();
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      Object.assign(report_, { state: "ok", seconds, detail: detail || undefined });
      say(`stage ${name} ok ${seconds.toFixed(1)}s${detail ? ` (${detail})` : ""}`);
      report(report_);
    } catch (err) {
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      if (err instanceof Stopped || signal.aborted) {
        stopped = true;
        Object.assign(report_, { state: "failed", seconds, detail: "stopped", code: 130 });
        say(`stage ${name} stopped after ${seconds.toFixed(1)}s`);
        report(report_);
        break;
      }
      const failure = err instanceof StageFailure ? err : new StageFailure((err as Error).message, 1);
      Object.assign(report_, { state: "failed", seconds, detail: failure.message, code: failure.code });
      say(`stage ${name} FAILED (exit ${failure.code}) ${seconds.toFixed(1)}s: ${failure.message}`);
      report(report_);
      code = failure.code || 1;
      break;
    }
  }
  if (stopped) code = 130;
  for (const r of stages) {
    if (r.state === "pending") {
      r.state = "skipped";
      r.detail = stopped ? "stopped" : code !== 0 ? "an earlier stage failed" : r.detail;
    }
  }
  const commitStage = stages.find((s) => s.name === "commit");
  if (commitStage && code === 0 && !stopped) {
    try {
      commitSha = await commitChanges(root, before!, say);
      Object.assign(commitStage, {
        state: "ok",
        detail: commitSha ? `committed ${commitSha.slice(0, 12)} (not pushed)` : "nothing changed",
      });
    } catch (err) {
      Object.assign(commitStage, { state: "failed", detail: (err as Error).message, code: 1 });
      say(`stage commit FAILED: ${(err as Error).message}`);
      code = 1;
    }
    report(commitStage);
  }
  const finished = Date.now() / 1000;
  const ok = code === 0;
  say(
    ok
      ? `done: ok in ${(finished - started).toFixed(1)}s`
      : stopped
      ? "stopped"
      : `failed at stage ${stages.find((s) => s.state === "failed")?.name} (exit ${code})`,
  );
  emitAction("dev_cycle.end", { ok, code, stopped, seconds: finished - started });
  await log.close();
  return {
    ok,
    code,
    stages,
    started,
    finished,
    stopped,
    logFile,
    composeFile: files?.composeFile,
    commitSha,
  };
}

let podmanAnswers: Promise<boolean> | undefined;
/** True when the `podman` CLI is installed (its health checks may need running on demand). */
function podmanCli(): Promise<boolean> {
  return podmanAnswers ??= new Deno.Command("podman", { args: ["--version"], stdout: "null", stderr: "null" })
    .output().then((o) => o.success, () => false);
}

/** dspy-code's own state: never committed. */
const OWN_STATE = /^\.dspy(_|\/|$)|^\.dspy[a-z_]*(\.|\/|$)/;

async function git(root: string, ...args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  const out = await new Deno.Command("git", {
    args,
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  })
    .output().catch((e) => {
      throw new UserError(`--commit needs git: ${(e as Error).message}`);
    });
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout), err: dec.decode(out.stderr).trim() };
}

/** Changed and untracked files (not ignored) with a content hash, so later changes can be told apart. */
async function dirtyFiles(root: string): Promise<Map<string, string>> {
  const status = await git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all");
  if (!status.ok) throw new UserError(`--commit: ${root} is not a git repository (${status.err})`);
  const map = new Map<string, string>();
  const entries = status.out.split("\0").filter(Boolean);
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const path = e.slice(3);
    if (e[0] === "R" || e[0] === "C") i++; // the next entry is the rename's source
    const hash = await git(root, "hash-object", "--", path);
    map.set(path, hash.ok ? hash.out.trim() : "deleted");
  }
  return map;
}

/** Commits the files that changed since `before` (one local commit, never pushed); returns its sha. */
async function commitChanges(
  root: string,
  before: Map<string, string>,
  say: (s: string) => void,
): Promise<string | undefined> {
  const after = await dirtyFiles(root);
  const changed = [...after].filter(([p, h]) => before.get(p) !== h && !OWN_STATE.test(p)).map(([p]) => p);
  if (changed.length === 0) {
    say("commit: the cycle changed no files");
    return undefined;
  }
  const add = await git(root, "add", "--", ...changed);
  if (!add.ok) throw new Error(`git add failed: ${add.err}`);
  const stamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const commit = await git(
    root,
    "commit",
    "-m",
    `chore(dev-cycle): files the dev cycle changed ${stamp}`,
    "--",
    ...changed,
  );
  if (!commit.ok) throw new Error(`git commit failed: ${commit.err}`);
  const sha = (await git(root, "rev-parse", "HEAD")).out.trim();
  say(
    `commit: ${sha.slice(0, 12)} with ${changed.length} file(s): ${
      changed.join(", ")
    } (local only; nothing pushed)`,
  );
  return sha;
}
