/**
 * Test support: runs the real `main.ts` entry point as a subprocess and captures its output.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** Absolute path of the repository's `main.ts`. */
export const MAIN_TS = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** What a CLI run produced. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link runDspy}. */
export interface RunDspyOptions {
  /** Text piped to stdin (stdin is closed when omitted). */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory of the process. */
  cwd?: string;
  /** Variables to remove from the inherited environment. */
  unsetEnv?: string[];
}

/** Variables that would change the CLI's defaults if the developer's shell had them set. */
const CLI_ENV = [
  "DSPY_WORKSPACE",
  "MODEL_NAME",
  "OLLAMA_MODEL",
  "USE_OLLAMA",
  "OPENAI_API_KEY",
  "OPENAI_BASE_URL",
  "TOOL_APPROVAL",
  "LOCAL_MODE",
  "DSPY_BUS",
  "KAFKA_BOOTSTRAP_SERVERS",
];

/**
 * Runs `deno run -A main.ts ARGS` and returns exit code and output.
 *
 * @example
 * ```ts
 * const { code, stdout } = await runDspy(["--workspace", dir, "stats", "--json"]);
 * ```
 */
export async function runDspy(args: string[], options: RunDspyOptions = {}): Promise<CliRun> {
  const env: Record<string, string> = { ...Deno.env.toObject(), NO_COLOR: "", ...options.env };
  for (const name of [...CLI_ENV, ...(options.unsetEnv ?? [])]) {
    if (!(options.env && name in options.env)) delete env[name];
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, ...args],
    stdin: options.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    cwd: options.cwd,
    env,
    clearEnv: true,
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Creates a temporary workspace folder; remove it with `Deno.remove(dir, {recursive: true})`. */
export function tempWorkspace(prefix = "dspy-test-"): Promise<string> {
  return Deno.makeTempDir({ prefix });
}

/**
 * A piped session driven line by line: a signal can arrive while a command runs, or another program can
 * change files between two lines. `waitFor` waits (20 s at most) until stdout or stderr holds the text.
 */
export function pipedSession(ws: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN_TS, "--workspace", ws, "--plain"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) text += chunk;
  };
  const reading = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const waitFor = async (needle: string) => {
    const deadline = Date.now() + 20_000;
    while (!text.includes(needle)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for '${needle}' in:\n${text}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return {
    child,
    send: (s: string) => writer.write(new TextEncoder().encode(s)),
    close: () => writer.close().catch(() => {}),
    waitFor,
    output: async () => {
      await reading;
      return text;
    },
  };
}
