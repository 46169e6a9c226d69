/**
 * Running the lightweight compose stack (`docker/lightweight/`) for `quickstart` and the dev cycle: find a
 * Compose CLI (`docker compose`, else `docker-compose`), see whether an engine answers, locate the compose
 * files (the repository's when running from source; otherwise the copies compiled into the binary, written
 * to `<workspace>/.dspy/compose/` on first use, with an image context around the running executable), bring
 * the stack up, and find the URL the dashboard is really served on (`compose port`, then a `/health` probe).
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../core/errors.ts";
import { atomicWriteFile } from "../core/atomic.ts";
import composeYml from "../docker/lightweight/docker-compose.yml" with { type: "text" };
import envExample from "../docker/lightweight/.env.example" with { type: "text" };
import binaryDockerfile from "../docker/binary.Dockerfile" with { type: "text" };
import { probeUrl } from "./probe.ts";

/** Where messages go (the CLI's output, or the dev cycle's log). */
export interface OpsOutput {
  info(message: string): void;
  warn(message: string): void;
  print(...lines: string[]): void;
}

/** A Compose command line that answered `version`. */
export interface ComposeCli {
  /** The argv prefix: `["docker", "compose"]` or `["docker-compose"]`. */
  argv: string[];
  /** Its version line. */
  version: string;
}

/** The files a stack runs from, and the variables Compose interpolates them with. */
export interface StackFiles {
  /** Absolute path of docker-compose.yml. */
  composeFile: string;
  /** `.env` beside it, when the user made one. */
  envFile?: string;
  /** Variables passed to Compose (over the environment; a `.env` value wins over neither). */
  env: Record<string, string>;
  /** `repository` (running from source) or `embedded` (files written from the binary). */
  origin: "repository" | "embedded";
}

async function run(
  argv: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ ok: boolean; code: number; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined,
    }).output();
    const dec = new TextDecoder();
    return {
      ok: out.success,
      code: out.code,
      stdout: dec.decode(out.stdout),
      stderr: dec.decode(out.stderr),
    };
  } catch (err) {
    return { ok: false, code: 127, stdout: "", stderr: (err as Error).message };
  }
}

/**
 * The Compose CLI to use: the `docker compose` plugin when it answers, else the standalone `docker-compose`
 * (Debian's 1.29 included), else null. `DSPY_COMPOSE` (e.g. `podman-compose`) overrides the search.
 */
export async function findComposeCli(
  forcedCli: string | undefined = Deno.env.get("DSPY_COMPOSE"),
): Promise<ComposeCli | null> {
  const forced = forcedCli?.trim();
  const candidates = forced ? [forced.split(/\s+/)] : [["docker", "compose"], ["docker-compose"]];
  for (const argv of candidates) {
    const res = await run([...argv, "version"], { timeoutMs: 10_000 });
    if (res.ok) return { argv, version: res.stdout.split("\n")[0].trim() };
  }
  return null;
}

/** True when a container engine answers `docker info` within a few seconds. */
export async function engineAnswers(): Promise<boolean> {
  return (await run(["docker", "info", "--format", "{{.ServerVersion}}"], { timeoutMs: 8_000 })).ok;
}

/** The repository's compose file when running from source and it is on disk, else null. */
export function repositoryComposeFile(): string | null {
  if (Deno.build.standalone) return null;
  const file = fileURLToPath(new URL("../docker/lightweight/docker-compose.yml", import.meta.url));
  try {
    return Deno.statSync(file).isFile ? file : null;
  } catch {
    return null;
  }
}

async function writeIfChanged(path: string, text: string): Promise<void> {
  const current = await Deno.readTextFile(path).catch(() => null);
  if (current !== text) await atomicWriteFile(path, text);
}

/**
 * Locates (or writes) the compose files for `workspace` and the variables that point the stack at it: the
 * workspace to mount, the user to run as, and — for the binary — the image context holding this executable.
 * `embedded: true` uses the files compiled into the program even when running from source (tests).
 */
export async function prepareStackFiles(
  workspace: string,
  options: {
    embedded?: boolean;
    /** The variables the user set (default: this process's environment). */
    environment?: Record<string, string | undefined>;
  } = {},
): Promise<StackFiles> {
  const given = (name: string) => options.environment ? options.environment[name] : Deno.env.get(name);
  const env: Record<string, string> = {};
  const setDefault = (name: string, value: string) => {
    if (given(name) === undefined) env[name] = value;
  };
  setDefault("DSPY_WORKSPACE_DIR", workspace);
  const uid = Deno.uid();
  const gid = Deno.gid();
  if (uid !== null && uid !== 0) setDefault("DSPY_UID", String(uid));
  if (gid !== null && gid !== 0) setDefault("DSPY_GID", String(gid));

  const repo = options.embedded ? null : repositoryComposeFile();
  let composeFile: string;
  let origin: StackFiles["origin"];
  if (repo) {
    composeFile = repo;
    origin = "repository";
    // From source, the image is built from the repository (the source target needs no Deno image).
    setDefault("DSPY_CODE_BUILD_CONTEXT", join(dirname(repo), "..", ".."));
  } else {
    const dir = join(workspace, ".dspy", "compose");
    composeFile = join(dir, "docker-compose.yml");
    origin = "embedded";
    await writeIfChanged(composeFile, composeYml);
    await writeIfChanged(join(dir, ".env.example"), envExample);
    if (
      given("DSPY_CODE_IMAGE") === undefined || given("DSPY_CODE_BUILD_CONTEXT") === undefined
    ) {
      if (Deno.build.os !== "linux") {
        throw new UserError(
          `the container image needs a Linux dspy-code executable and this one is built for ${Deno.build.target}: ` +
            `set DSPY_CODE_IMAGE to a dspy-code image, or DSPY_CODE_BUILD_CONTEXT to a folder holding the Linux ` +
            `release asset as 'dspy-code' (see docs/ops.md), or run 'dspy-code quickstart --local'`,
        );
      }
      const context = join(dir, "image");
      await Deno.mkdir(context, { recursive: true });
      await writeIfChanged(join(context, "Dockerfile"), binaryDockerfile);
      const target = join(context, "dspy-code");
      const size = (await Deno.stat(Deno.execPath())).size;
      const have = await Deno.stat(target).then((s) => s.size, () => -1);
      if (have !== size) {
        await Deno.copyFile(Deno.execPath(), target + ".tmp");
        await Deno.rename(target + ".tmp", target);
      }
      setDefault("DSPY_CODE_BUILD_CONTEXT", context);
      setDefault("DSPY_CODE_DOCKERFILE", "Dockerfile");
    }
  }
  const envFile = join(dirname(composeFile), ".env");
  const hasEnv = await Deno.stat(envFile).then((s) => s.isFile, () => false);
  return { composeFile, envFile: hasEnv ? envFile : undefined, env, origin };
}

/** The argv of a compose subcommand on `files` (project `dspy-code` unless COMPOSE_PROJECT_NAME is set). */
export function composeArgv(cli: ComposeCli, files: StackFiles, ...args: string[]): string[] {
  return [
    ...cli.argv,
    "-f",
    files.composeFile,
    ...(files.envFile ? ["--env-file", files.envFile] : []),
    ...(Deno.env.get("COMPOSE_PROJECT_NAME") ? [] : ["-p", "dspy-code"]),
    ...args,
  ];
}

/** Runs a compose subcommand with the stack's variables; output is captured. */
export function runCompose(cli: ComposeCli, files: StackFiles, ...args: string[]) {
  return run(composeArgv(cli, files, ...args), {
    cwd: dirname(files.composeFile),
    env: files.env,
  });
}

/** The URL a service's container port is published on (`compose port`), or null when unpublished. */
export async function publishedUrl(
  cli: ComposeCli,
  files: StackFiles,
  service: string,
  port: number,
): Promise<string | null> {
  const res = await runCompose(cli, files, "port", service, String(port));
  const line = res.stdout.trim().split("\n").at(-1)?.trim();
  if (!res.ok || !line || !/:\d+$/.test(line)) return null;
  const [host, p] = [line.slice(0, line.lastIndexOf(":")), line.slice(line.lastIndexOf(":") + 1)];
  const h = host === "0.0.0.0" || host === "" ? "127.0.0.1" : host === "::" ? "[::1]" : host;
  return `http://${h}:${p}`;
}

/** Polls `url + /health` until it answers 2xx or `timeoutMs` passes. */
export async function waitHealthy(url: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !signal?.aborted) {
    if ((await probeUrl(`${url}/health`, 3000)).ok) return true;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return false;
}

/** Options for {@link startComposeStack}. */
export interface ComposeStackOptions {
  workspace: string;
  out: OpsOutput;
  signal?: AbortSignal;
  /** How long to wait for the dashboard's /health (default 180 s: the first start builds the image). */
  healthTimeoutMs?: number;
}

/**
 * `quickstart` with an engine: brings the stack up detached and returns the dashboard URL it really serves,
 * or null when no engine or Compose CLI answers (the caller then runs the local stack).
 */
export async function startComposeStack(
  options: ComposeStackOptions,
): Promise<{ url: string; mode: "docker"; composeFile: string } | null> {
  const { out } = options;
  if (!await engineAnswers()) return null;
  const cli = await findComposeCli();
  if (!cli) {
    out.warn("a container engine answers but neither 'docker compose' nor 'docker-compose' does");
    return null;
  }
  const files = await prepareStackFiles(options.workspace);
  out.info(
    `container engine found: starting ${files.composeFile} with ${cli.argv.join(" ")} (${cli.version})`,
  );
  const child = new Deno.Command(composeArgv(cli, files, "up", "-d")[0], {
    args: composeArgv(cli, files, "up", "-d").slice(1),
    cwd: dirname(files.composeFile),
    env: files.env,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  if (!status.success) {
    throw new UserError(
      `${cli.argv.join(" ")} up failed (exit ${status.code}); see the output above, or run ` +
        `'dspy-code quickstart --local' for the stack without containers`,
    );
  }
  const url = await publishedUrl(cli, files, "dspy-code", 8765);
  if (!url) {
    throw new UserError(
      `the stack is up but the dspy-code service publishes no port 8765; check DSPY_CODE_HOST_PORT in ${
        files.envFile ?? "the environment"
      }`,
    );
  }
  const healthy = await waitHealthy(url, options.healthTimeoutMs ?? 180_000, options.signal);
  if (!healthy) {
    out.warn(
      `${url}/health did not answer yet; follow the start with: ${
        composeArgv(cli, files, "logs", "-f", "dspy-code").join(" ")
      }`,
    );
  }
  out.print(`Stack started with ${cli.argv.join(" ")}. Dashboard: ${url}/`);
  out.info(`stop it with: ${composeArgv(cli, files, "down").join(" ")}`);
  return { url, mode: "docker", composeFile: files.composeFile };
}
