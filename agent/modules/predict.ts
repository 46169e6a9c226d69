/**
 * DSPy-style signatures and predictors. A {@link Signature} declares typed input and output fields and the
 * instructions; {@link predict} renders it into chat messages (with optional few-shot demos), asks the
 * model for a JSON object, and parses and validates the reply: a `list` field is a list of strings, an
 * `enum` field is one of its values, a `json` field parses. Replies in JSON (bare, fenced or embedded),
 * DSPy's `[[ ## field ## ]]` sections or ax's `field: value` lines are all accepted. `chainOfThought` adds a
 * `reasoning` field before the outputs. {@link predictWithEscalation} runs the fast predictor first and
 * escalates to chain-of-thought when the answer is unreadable or low-signal. Every successful prediction
 * can be recorded as an example (`.dspy/examples/<Signature>.jsonl`) and demos are read from
 * `.dspy/demos/<Signature>.json`, so the modules can be optimised later from recorded data.
 *
 * @module
 */

import { join } from "node:path";
import { appendJsonLine } from "../../core/atomic.ts";
import { workspacePaths } from "../../core/workspace.ts";
import { type ChatMessage, type LlmClient, LlmError } from "../llm/client.ts";

/** Output field types. */
export type FieldType = "string" | "list" | "enum" | "json" | "number";

/** One field of a signature. */
export interface Field {
  name: string;
  /** What the field holds (shown to the model). */
  desc: string;
  /** Output type (inputs are always text). Default string. */
  type?: FieldType;
  /** Allowed values for an enum. */
  values?: readonly string[];
  /** Output may be empty. */
  optional?: boolean;
}

/** A typed task description. */
export interface Signature {
  name: string;
  instructions: string;
  inputs: readonly Field[];
  outputs: readonly Field[];
}

/** Parsed outputs: strings, string lists, numbers or parsed JSON. */
export type Outputs = Record<string, unknown>;

/** One few-shot example. */
export interface Demo {
  inputs: Record<string, string>;
  outputs: Outputs;
}

/** Options for {@link predict}. */
export interface PredictOptions {
  /** Add a `reasoning` output first (chain of thought). */
  chainOfThought?: boolean;
  /** Few-shot examples. */
  demos?: Demo[];
  /** Workspace whose `.dspy/examples/` records the call and whose `.dspy/demos/` supplies demos. */
  workspace?: string;
  signal?: AbortSignal;
  temperature?: number;
}

/** A prediction. */
export interface Prediction {
  outputs: Outputs;
  /** The model's reasoning (chain of thought only). */
  reasoning?: string;
  /** Which predictor produced it. */
  mode: "predict" | "chain-of-thought";
  raw: string;
  model: string;
}

const REASONING: Field = { name: "reasoning", desc: "Think step by step about the inputs before answering." };

function describeType(f: Field): string {
  switch (f.type ?? "string") {
    case "list":
      return "JSON array of strings";
    case "enum":
      return `one of: ${f.values?.join(" | ")}`;
    case "json":
      return "JSON value";
    case "number":
      return "number";
    default:
      return "string";
  }
}

/** Renders a signature and inputs as chat messages. */
export function renderMessages(
  sig: Signature,
  inputs: Record<string, string>,
  options: { chainOfThought?: boolean; demos?: Demo[] } = {},
): ChatMessage[] {
  const outputs = options.chainOfThought ? [REASONING, ...sig.outputs] : [...sig.outputs];
  const system = [
    sig.instructions.trim(),
    "",
    "Inputs:",
    ...sig.inputs.map((f) => `- ${f.name}: ${f.desc}`),
    "",
    "Reply with ONE JSON object and nothing else, with exactly these keys:",
    ...outputs.map((f) => `- "${f.name}" (${describeType(f)}): ${f.desc}`),
  ].join("\n");
  const messages: ChatMessage[] = [{ role: "system", content: system }];
  const renderInputs = (values: Record<string, string>) =>
    sig.inputs.map((f) => `## ${f.name}\n${(values[f.name] ?? "").trim() || "(empty)"}`).join("\n\n");
  for (const demo of options.demos ?? []) {
    messages.push({ role: "user", content: renderInputs(demo.inputs) });
    messages.push({ role: "assistant", content: JSON.stringify(demo.outputs) });
  }
  messages.push({ role: "user", content: renderInputs(inputs) });
  return messages;
}

/** Pulls a JSON object out of a reply: bare, fenced, or the outermost braces. */
function jsonObject(text: string): Record<string, unknown> | undefined {
  const tries: string[] = [text.trim()];
  const fence = /```(?:json)?\s*([\s\S]*?)```/i.exec(text);
  if (fence) tries.push(fence[1].trim());
  const first = text.indexOf("{");
  const last = text.lastIndexOf("}");
  if (first >= 0 && last > first) tries.push(text.slice(first, last + 1));
  for (const t of tries) {
    try {
      const v = JSON.parse(t);
      if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch { /* next */ }
  }
  return undefined;
}

/** Reads `[[ ## field ## ]]` sections or `field: value` blocks. */
function fieldSections(text: string, names: string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const lower = new Map(names.map((n) => [n.toLowerCase().replace(/[_\s]/g, ""), n]));
  let current: string | undefined;
  let found = false;
  for (const line of text.split("\n")) {
    const dspy = /^\s*\[\[\s*##\s*([\w ]+?)\s*##\s*\]\]\s*$/.exec(line);
    const colon = /^\s*(?:\*\*)?([A-Za-z][\w ]{0,40}?)(?:\*\*)?\s*:\s*(.*)$/.exec(line);
    const name = dspy
      ? lower.get(dspy[1].toLowerCase().replace(/[_\s]/g, ""))
      : colon
      ? lower.get(colon[1].toLowerCase().replace(/[_\s]/g, ""))
      : undefined;
    if (name) {
      current = name;
      found = true;
      out[name] = dspy ? "" : colon![2];
    } else if (current) {
      out[current] += (out[current] ? "\n" : "") + line;
    }
  }
  if (!found) return undefined;
  for (const k of Object.keys(out)) out[k] = out[k].trim();
  return out;
}

const ITEM_TEXT_KEYS = ["step", "description", "text", "command", "cmd", "risk", "assumption", "content"];

/**
 * One list item as text. Small models often wrap items in objects (`{"step": "run tests"}`): an object with
 * one of the usual text keys, or with a single string value, gives that text; anything else stays JSON.
 */
function itemText(v: unknown): string {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    for (const k of ITEM_TEXT_KEYS) if (typeof o[k] === "string") return o[k] as string;
    const strings = Object.values(o).filter((x): x is string => typeof x === "string");
    if (strings.length === 1 && Object.keys(o).length === 1) return strings[0];
  }
  return typeof v === "number" || typeof v === "boolean" ? String(v) : JSON.stringify(v);
}

function toList(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.map(itemText).map((s) => s.trim()).filter(Boolean);
  if (typeof value === "string") {
    const t = value.trim();
    if (t === "") return [];
    if (t.startsWith("[")) {
      try {
        const parsed = JSON.parse(t);
        if (Array.isArray(parsed)) return toList(parsed);
      } catch { /* not JSON: split lines */ }
    }
    return t.split("\n").map((l) => l.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, "").trim()).filter(Boolean);
  }
  return undefined;
}

/** Validates and converts one output field; throws a message naming the field. */
function coerce(f: Field, value: unknown): unknown {
  const type = f.type ?? "string";
  if (value === undefined || value === null) {
    if (f.optional) return type === "list" ? [] : type === "json" ? null : "";
    throw new Error(`missing field '${f.name}'`);
  }
  switch (type) {
    case "string":
      if (typeof value === "string") return value.trim();
      if (Array.isArray(value)) return value.map(String).join("\n");
      return typeof value === "object" ? JSON.stringify(value) : String(value);
    case "list": {
      const list = toList(value);
      if (!list) throw new Error(`field '${f.name}' must be a list of strings`);
      return list;
    }
    case "enum": {
      const s = String(value).trim().toLowerCase().replace(/[^a-z_-]/g, "");
      const hit = f.values?.find((v) => v.toLowerCase() === s);
      if (!hit) {
        throw new Error(
          `field '${f.name}' must be one of ${f.values?.join("|")}, got '${String(value).slice(0, 30)}'`,
        );
      }
      return hit;
    }
    case "number": {
      const n = typeof value === "number" ? value : Number(String(value).trim());
      if (!Number.isFinite(n)) throw new Error(`field '${f.name}' must be a number`);
      return n;
    }
    case "json":
      if (typeof value === "string") {
        const t = value.trim();
        if (t === "") {
          return f.optional ? null : (() => {
            throw new Error(`field '${f.name}' is empty`);
          })();
        }
        try {
          return JSON.parse(t);
        } catch {
          const inner = jsonObject(t);
          if (inner) return inner;
          throw new Error(`field '${f.name}' must be JSON`);
        }
      }
      return value;
  }
}

/**
 * Parses a model reply against a signature's outputs. Throws an Error saying which field is missing or
 * malformed.
 */
export function parseOutputs(
  sig: Signature,
  text: string,
  chainOfThought = false,
): { outputs: Outputs; reasoning?: string } {
  const fields = chainOfThought ? [{ ...REASONING, optional: true }, ...sig.outputs] : [...sig.outputs];
  const names = fields.map((f) => f.name);
  let raw: Record<string, unknown> | undefined = jsonObject(text);
  if (raw && !names.some((n) => n in raw!)) {
    // A wrapper object ({"answer": {...}}) or unrelated JSON.
    const inner = Object.values(raw).find((v) =>
      typeof v === "object" && v !== null && names.some((n) => n in (v as object))
    );
    raw = inner as Record<string, unknown> | undefined;
  }
  if (!raw) raw = fieldSections(text, names);
  if (!raw) {
    if (sig.outputs.length === 1 && (sig.outputs[0].type ?? "string") === "string" && text.trim()) {
      raw = { [sig.outputs[0].name]: text.trim() };
    } else {
      throw new Error(`the reply has none of the fields ${sig.outputs.map((f) => f.name).join(", ")}`);
    }
  }
  const outputs: Outputs = {};
  for (const f of sig.outputs) {
    try {
      outputs[f.name] = coerce(f, raw[f.name]);
    } catch (err) {
      // An optional field the model got wrong (a confidence of "high") is dropped, not fatal: the answer's
      // required fields still carry it.
      if (!f.optional) throw err;
      outputs[f.name] = coerce(f, undefined);
    }
  }
  const reasoning = typeof raw.reasoning === "string" ? raw.reasoning : undefined;
  return { outputs, reasoning };
}

async function loadDemos(workspace: string, name: string): Promise<Demo[]> {
  try {
    const parsed = JSON.parse(
      await Deno.readTextFile(join(workspacePaths(workspace).stateDir, "demos", `${name}.json`)),
    );
    return Array.isArray(parsed)
      ? parsed.filter((d) => d && typeof d === "object" && d.inputs && d.outputs).slice(0, 8)
      : [];
  } catch {
    return [];
  }
}

/** Appends a successful prediction to `.dspy/examples/<Signature>.jsonl` (the optimiser's raw material). */
async function recordExample(
  workspace: string,
  sig: Signature,
  inputs: Record<string, string>,
  p: Prediction,
): Promise<void> {
  const clipped: Record<string, string> = {};
  for (const [k, v] of Object.entries(inputs)) clipped[k] = v.slice(0, 4000);
  try {
    await appendJsonLine(join(workspacePaths(workspace).stateDir, "examples", `${sig.name}.jsonl`), {
      ts: Date.now() / 1000,
      signature: sig.name,
      mode: p.mode,
      model: p.model,
      inputs: clipped,
      outputs: p.outputs,
    });
  } catch { /* recording is best effort */ }
}

/**
 * Runs a signature once. A reply that cannot be parsed is retried once with the parse error shown to the
 * model; after that an {@link LlmError} (`garbage`) says what was wrong.
 */
export async function predict(
  llm: LlmClient,
  sig: Signature,
  inputs: Record<string, string>,
  options: PredictOptions = {},
): Promise<Prediction> {
  const cot = options.chainOfThought === true;
  const demos = options.demos ?? (options.workspace ? await loadDemos(options.workspace, sig.name) : []);
  const messages = renderMessages(sig, inputs, { chainOfThought: cot, demos });
  let lastError = "";
  for (let attempt = 0; attempt < 2; attempt++) {
    const completion = await llm.complete(messages, {
      json: true,
      signal: options.signal,
      temperature: options.temperature,
    });
    try {
      const parsed = parseOutputs(sig, completion.text, cot);
      const prediction: Prediction = {
        outputs: parsed.outputs,
        reasoning: parsed.reasoning,
        mode: cot ? "chain-of-thought" : "predict",
        raw: completion.text,
        model: completion.model,
      };
      if (options.workspace) await recordExample(options.workspace, sig, inputs, prediction);
      return prediction;
    } catch (err) {
      lastError = (err as Error).message;
      messages.push({ role: "assistant", content: completion.text.slice(0, 2000) });
      messages.push({
        role: "user",
        content:
          `Your reply could not be used: ${lastError}. Reply again with only the JSON object with keys ` +
          `${
            (cot ? ["reasoning", ...sig.outputs.map((f) => f.name)] : sig.outputs.map((f) => f.name)).join(
              ", ",
            )
          }.`,
      });
    }
  }
  throw new LlmError("garbage", `${llm.label} gave an unusable answer for ${sig.name}: ${lastError}`);
}

/** Chain of thought: {@link predict} with a `reasoning` field first. */
export function chainOfThought(
  llm: LlmClient,
  sig: Signature,
  inputs: Record<string, string>,
  options: PredictOptions = {},
): Promise<Prediction> {
  return predict(llm, sig, inputs, { ...options, chainOfThought: true });
}

/**
 * Fast predictor first; escalates to chain of thought when the reply is unusable or `lowSignal` says the
 * answer is too thin. `mode: "cot"` skips the fast attempt.
 */
export async function predictWithEscalation(
  llm: LlmClient,
  sig: Signature,
  inputs: Record<string, string>,
  options: PredictOptions & { lowSignal?: (o: Outputs) => boolean; mode?: "auto" | "cot" | "fast" } = {},
): Promise<Prediction> {
  if (options.mode === "cot") return await chainOfThought(llm, sig, inputs, options);
  let fast: Prediction | undefined;
  try {
    fast = await predict(llm, sig, inputs, { ...options, chainOfThought: false });
  } catch (err) {
    if (!(err instanceof LlmError) || err.kind !== "garbage" || options.mode === "fast") throw err;
  }
  if (fast && (options.mode === "fast" || !options.lowSignal?.(fast.outputs))) return fast;
  try {
    return await chainOfThought(llm, sig, inputs, options);
  } catch (err) {
    if (fast) return fast; // the thin answer is still a real answer from the model
    throw err;
  }
}
