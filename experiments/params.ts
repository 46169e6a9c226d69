/**
 * Turns untrusted input into a validated {@link ExperimentSpec}: a JSON body (the API, with the original
 * tool's field names: `dataset_path`, `batch_size`, `max_count`, `normalize`, `model`, `infermesh_url`) or
 * a command line (`run embed --dataset F ...`, `run rl --env cartpole ...`, `sweep --dataset F ...`, which
 * the CLI and the schedules share). Every error is a {@link UsageError} naming the field and what to send
 * (exit 2 on the CLI, 400 on the API). Paths are checked against the workspace separately (`paths.ts`).
 *
 * @module
 */

import { type ArgOption, ArgsError, parseArgv } from "../core/args.ts";
import { UsageError } from "../core/errors.ts";
import { USE_LITE_MODEL, useTextModeOf } from "../embeddings/mod.ts";
import type { EmbedParams, ExperimentSpec, RlParams, SweepParams } from "./types.ts";

/** Default texts per batch (the original's `EMBED_BATCH_SIZE` default). */
export const DEFAULT_BATCH_SIZE = 64;
/** Built-in envs an `rl` experiment accepts. */
export const RL_ENVS = ["cartpole", "bandit"];
const BACKENDS = ["local", "use", "infermesh", "hash"] as const;
/** Upper bounds that keep one request from asking for absurd work. */
const MAX_BATCH = 4096;
const MAX_RL_STEPS = 50_000_000;
const MAX_GRID = 64;

type Body = Record<string, unknown>;

function str(body: Body, key: string, required = false): string | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === "") {
    if (required) throw new UsageError(`${key} required: send "${key}": "..."`);
    return undefined;
  }
  if (typeof v !== "string") throw new UsageError(`${key} must be a string, got ${typeof v}`);
  if (v.length > 4096) throw new UsageError(`${key} is over 4096 characters`);
  return v;
}

function int(body: Body, key: string, fallback: number, min: number, max: number): number {
  const v = body[key];
  if (v === undefined || v === null || v === "") return fallback;
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`${key} must be a whole number from ${min} to ${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function num(body: Body, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null || v === "") return undefined;
  const n = typeof v === "string" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw new UsageError(`${key} must be a number, got ${JSON.stringify(v)}`);
  }
  return n;
}

function bool(body: Body, key: string): boolean {
  const v = body[key];
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (v === "true" || v === "1" || v === 1) return true;
  if (v === "false" || v === "0" || v === 0) return false;
  throw new UsageError(`${key} must be true or false, got ${JSON.stringify(v)}`);
}

function backendOf(body: Body): EmbedParams["backend"] {
  const b = str(body, "backend");
  if (b !== undefined) {
    if (!(BACKENDS as readonly string[]).includes(b)) {
      throw new UsageError(`backend must be local, use, infermesh or hash, got '${b}'`);
    }
    return b as EmbedParams["backend"];
  }
  if (str(body, "infermesh_url")) return "infermesh";
  if (str(body, "model_path")) return "local";
  return "hash";
}

function checkUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`infermesh_url must be an http(s) URL like http://127.0.0.1:19000, got '${url}'`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError(`infermesh_url must be http or https, got '${u.protocol}'`);
  }
  return url.replace(/\/+$/, "");
}

function asBody(value: unknown): Body {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError("the request body must be a JSON object");
  }
  return value as Body;
}

function embedCommon(body: Body): Omit<EmbedParams, "batch_size" | "model" | "model_path"> {
  const backend = backendOf(body);
  const infermesh_url = checkUrl(str(body, "infermesh_url"));
  if (backend === "infermesh" && !infermesh_url) {
    throw new UsageError('backend infermesh needs infermesh_url (e.g. "http://127.0.0.1:19000")');
  }
  return {
    dataset_path: str(body, "dataset_path", true)!,
    backend,
    ...(infermesh_url ? { infermesh_url } : {}),
    max_count: int(body, "max_count", 0, 0, 10_000_000),
    normalize: bool(body, "normalize"),
    store: bool(body, "store"),
  };
}

/** The use backend runs one model, in a few text modes (`universal-sentence-encoder-lite[:MODE]`). */
function checkUseModel(model: string): void {
  if (!useTextModeOf(model)) {
    throw new UsageError(
      `the use backend runs ${USE_LITE_MODEL} (optionally ${USE_LITE_MODEL}:MODE), not '${model}'; ` +
        "leave the model out, or use backend local for an ONNX model",
    );
  }
}

/** Validates the body of `POST /api/experiments/run` (kind `embed` unless `kind: "rl"`). */
export function embedParamsFrom(value: unknown): EmbedParams {
  const body = asBody(value);
  const common = embedCommon(body);
  const model = str(body, "model");
  const model_path = str(body, "model_path");
  if (common.backend === "local" && !model_path && !model) {
    throw new UsageError("backend local needs model_path (a model folder inside the workspace) or model");
  }
  if (common.backend === "use" && model) checkUseModel(model);
  return {
    ...common,
    ...(model ? { model } : {}),
    ...(model_path ? { model_path } : {}),
    batch_size: int(body, "batch_size", DEFAULT_BATCH_SIZE, 1, MAX_BATCH),
  };
}

/** Validates an `rl` body: `{env, steps, seed?, n_envs?, lr?, entropy_coef?, hidden?}`. */
export function rlParamsFrom(value: unknown): RlParams {
  const body = asBody(value);
  const env = str(body, "env") ?? "cartpole";
  if (!RL_ENVS.includes(env)) throw new UsageError(`env must be one of ${RL_ENVS.join(", ")}, got '${env}'`);
  const out: RlParams = { env, steps: int(body, "steps", 10_000, 1, MAX_RL_STEPS) };
  if (body.seed !== undefined) out.seed = int(body, "seed", 0, 0, 2 ** 31 - 1);
  if (body.n_envs !== undefined) out.n_envs = int(body, "n_envs", 8, 1, 256);
  const lr = num(body, "lr");
  if (lr !== undefined) {
    if (lr <= 0 || lr > 1) throw new UsageError(`lr must be in (0, 1], got ${lr}`);
    out.lr = lr;
  }
  const ent = num(body, "entropy_coef");
  if (ent !== undefined) {
    if (ent < 0 || ent > 1) throw new UsageError(`entropy_coef must be in [0, 1], got ${ent}`);
    out.entropy_coef = ent;
  }
  if (body.hidden !== undefined) {
    const h = body.hidden;
    if (
      !Array.isArray(h) || h.length === 0 || h.length > 4 ||
      !h.every((x) => Number.isInteger(x) && x >= 1 && x <= 1024)
    ) {
      throw new UsageError("hidden must be a list of 1-4 layer widths from 1 to 1024, e.g. [64, 64]");
    }
    out.hidden = h as number[];
  }
  return out;
}

function list<T>(body: Body, key: string, parse: (s: unknown) => T, fallback: T[]): T[] {
  const v = body[key];
  if (v === undefined || v === null || v === "") return fallback;
  const items = typeof v === "string" ? v.split(",").map((s) => s.trim()).filter(Boolean) : v;
  if (!Array.isArray(items) || items.length === 0) {
    throw new UsageError(`${key} must be a non-empty list (JSON array or comma-separated)`);
  }
  return items.map(parse);
}

/** Validates the body of `POST /api/experiments/sweep`. */
export function sweepParamsFrom(value: unknown): SweepParams {
  const body = asBody(value);
  const common = embedCommon(body);
  const defaultModel = common.backend === "hash"
    ? "hash-256"
    : common.backend === "use"
    ? USE_LITE_MODEL
    : str(body, "model_path") ?? str(body, "model");
  const models = list(body, "models", (m) => {
    if (typeof m !== "string" || m.trim() === "" || m.length > 512) {
      throw new UsageError("models must be non-empty strings (model ids, or model folders for local)");
    }
    return m.trim();
  }, defaultModel ? [defaultModel] : []);
  if (models.length === 0) throw new UsageError("models required: send a list of models to compare");
  const batch_sizes = list(body, "batch_sizes", (b) => {
    const n = typeof b === "string" ? Number(b) : b;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_BATCH) {
      throw new UsageError(
        `batch_sizes must be whole numbers from 1 to ${MAX_BATCH}, got ${JSON.stringify(b)}`,
      );
    }
    return n;
  }, [DEFAULT_BATCH_SIZE]);
  if (models.length * batch_sizes.length > MAX_GRID) {
    throw new UsageError(
      `a sweep has at most ${MAX_GRID} cells; got ${models.length} × ${batch_sizes.length}`,
    );
  }
  for (const m of models) {
    if (common.backend === "hash" && !/^hash-\d{1,5}$/.test(m)) {
      throw new UsageError(`hash backend models are named hash-<dim> (e.g. hash-256), got '${m}'`);
    }
    if (common.backend === "use") checkUseModel(m);
  }
  return { ...common, models, batch_sizes };
}

/** Validates a `{kind, ...}` object (a stored spec or a body naming its kind). */
export function specFrom(kind: unknown, value: unknown): ExperimentSpec {
  switch (kind) {
    case "embed":
    case undefined:
      return { kind: "embed", params: embedParamsFrom(value) };
    case "rl":
      return { kind: "rl", params: rlParamsFrom(value) };
    case "sweep":
      return { kind: "sweep", params: sweepParamsFrom(value) };
    default:
      throw new UsageError(`kind must be embed, rl or sweep, got ${JSON.stringify(kind)}`);
  }
}

/** Usage of the run command lines, shown in errors and `--help`. */
export const RUN_USAGE = [
  "run embed --dataset FILE [--backend local|use|infermesh|hash] [--model M] [--model-path DIR]",
  "          [--infermesh-url U] [--batch-size 64] [--max-count N] [--normalize] [--store]",
  "run rl [--env cartpole|bandit] [--steps N] [--seed N] [--n-envs N] [--lr X] [--entropy-coef X]",
  "sweep --dataset FILE --models a,b --batch-sizes 16,64 [--backend ...] [--max-count N] [--normalize]",
];

function parse(args: string[], options: Record<string, ArgOption>, what: string) {
  let parsed;
  try {
    parsed = parseArgv(args, options);
  } catch (err) {
    if (!(err instanceof ArgsError)) throw err;
    throw new UsageError(`${what}: ${err.message.split("\n")[0]}; usage: ${RUN_USAGE.join(" | ")}`);
  }
  if (parsed.positionals.length > 0) {
    throw new UsageError(`${what}: unexpected argument '${parsed.positionals[0]}'`);
  }
  return parsed.values as Record<string, string | boolean | undefined>;
}

const EMBED_FLAGS = {
  dataset: { type: "string" },
  backend: { type: "string" },
  model: { type: "string" },
  "model-path": { type: "string" },
  "infermesh-url": { type: "string" },
  "batch-size": { type: "string" },
  "max-count": { type: "string" },
  normalize: { type: "boolean" },
  store: { type: "boolean" },
} as const;

function embedBody(v: Record<string, string | boolean | undefined>): Body {
  return {
    dataset_path: v.dataset,
    backend: v.backend,
    model: v.model,
    model_path: v["model-path"],
    infermesh_url: v["infermesh-url"],
    max_count: v["max-count"],
    normalize: v.normalize ?? false,
    store: v.store ?? false,
  };
}

/**
 * Parses `run embed ...`, `run rl ...` or `sweep ...` (the words after `experiments`) into a spec.
 *
 * @example
 * ```ts
 * specFromArgs(["run", "embed", "--dataset", "data/q.jsonl", "--batch-size", "32"]);
 * ```
 */
export function specFromArgs(args: string[]): ExperimentSpec {
  const [verb, kind, ...rest] = args;
  if (verb === "sweep") {
    const v = parse(args.slice(1), {
      ...EMBED_FLAGS,
      models: { type: "string" },
      "batch-sizes": { type: "string" },
    }, "sweep");
    if (v.dataset === undefined) throw new UsageError("sweep: --dataset FILE is required");
    return {
      kind: "sweep",
      params: sweepParamsFrom({ ...embedBody(v), models: v.models, batch_sizes: v["batch-sizes"] }),
    };
  }
  if (verb !== "run" || (kind !== "embed" && kind !== "rl")) {
    throw new UsageError(
      `expected 'run embed ...', 'run rl ...' or 'sweep ...'; usage: ${RUN_USAGE.join(" | ")}`,
    );
  }
  if (kind === "embed") {
    const v = parse(rest, EMBED_FLAGS, "run embed");
    if (v.dataset === undefined) throw new UsageError("run embed: --dataset FILE is required");
    return { kind: "embed", params: embedParamsFrom({ ...embedBody(v), batch_size: v["batch-size"] }) };
  }
  const v = parse(rest, {
    env: { type: "string" },
    steps: { type: "string" },
    seed: { type: "string" },
    "n-envs": { type: "string" },
    lr: { type: "string" },
    "entropy-coef": { type: "string" },
  }, "run rl");
  return {
    kind: "rl",
    params: rlParamsFrom({
      env: v.env,
      steps: v.steps,
      seed: v.seed,
      n_envs: v["n-envs"],
      lr: v.lr,
      entropy_coef: v["entropy-coef"],
    }),
  };
}
