/**
 * The agent's modules, built from the signatures: ContextBuilder, TaskAgent, CodeContext (+RAG),
 * FileLocator, CodeEdit (propose → local checks → critic + reviser rounds), PatchVerifier (local
 * pre-checks, then the model), TestPlanner and Orchestrator. Each takes an {@link LlmClient}; none invents an
 * answer when the model fails — errors propagate with their message.
 *
 * @module
 */

import type { LlmClient } from "../llm/client.ts";
import { PatchError, preparePatch, recountHunks, summarizePatch } from "../patch/prepare.ts";
import { type Outputs, type Prediction, predictWithEscalation } from "./predict.ts";
import {
  BuildContextSig,
  CodeContextRagSig,
  CodeContextSig,
  CodeEditSig,
  EditCriticSig,
  FileLocatorSig,
  OrchestrateSig,
  PatchVerifierSig,
  PlanTaskSig,
  ReviseEditSig,
  ROUTE_TOOLS,
  TestPlannerSig,
} from "./signatures.ts";

/** Shared options for module calls. */
export interface ModuleOptions {
  /** Records examples and reads demos. */
  workspace?: string;
  signal?: AbortSignal;
  /** `auto` (fast, escalate on low signal), `cot` or `fast`. */
  mode?: "auto" | "cot" | "fast";
}

const list = (o: Outputs, k: string) => (Array.isArray(o[k]) ? (o[k] as string[]) : []);
const str = (o: Outputs, k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");

/** ContextBuilder: logs → context and key points. */
export async function buildContext(
  llm: LlmClient,
  task: string,
  logsPreview: string,
  opts: ModuleOptions = {},
) {
  const p = await predictWithEscalation(llm, BuildContextSig, {
    task,
    logs_preview: logsPreview.slice(0, 8000),
  }, {
    ...opts,
    lowSignal: (o) => str(o, "context").length < 10 && list(o, "key_points").length === 0,
  });
  return {
    context: str(p.outputs, "context"),
    keyPoints: list(p.outputs, "key_points"),
    missingInfo: list(p.outputs, "missing_info"),
    nextSteps: list(p.outputs, "next_steps"),
    prediction: p,
  };
}

/** TaskAgent: task + context → plan, commands, assumptions, risks. */
export async function planTask(llm: LlmClient, task: string, context: string, opts: ModuleOptions = {}) {
  const p = await predictWithEscalation(llm, PlanTaskSig, { task, context: context.slice(0, 10000) }, {
    ...opts,
    lowSignal: (o) => list(o, "plan").length < 2 || list(o, "commands").length === 0,
  });
  return {
    plan: list(p.outputs, "plan"),
    commands: list(p.outputs, "commands"),
    assumptions: list(p.outputs, "assumptions"),
    risks: list(p.outputs, "risks"),
    prediction: p,
  };
}

/** A retrieved snippet for CodeContextRAG. */
export interface Reference {
  path: string;
  start: number;
  end: number;
  score: number;
  snippet: string;
}

/** CodeContext (or CodeContextRAG when references are given). */
export async function codeContext(
  llm: LlmClient,
  snapshot: string,
  ask: string,
  references: Reference[] = [],
  opts: ModuleOptions = {},
) {
  const lowSignal = (o: Outputs) =>
    (str(o, "summary").length < 40 && list(o, "bullets").join("").length < 20) ||
    (list(o, "entry_points").length === 0 && list(o, "risk_areas").length === 0);
  let p: Prediction;
  if (references.length) {
    p = await predictWithEscalation(llm, CodeContextRagSig, {
      snapshot: snapshot.slice(0, 8000),
      ask,
      retrieved_snippets: references.map((r) =>
        `# ${r.path}:${r.start}-${r.end} (score=${r.score.toFixed(3)})\n${r.snippet}`
      )
        .join("\n\n").slice(0, 6000),
      references: JSON.stringify(
        references.map(({ path, start, end, score }) => ({ path, start, end, score })),
      ),
    }, { ...opts, lowSignal });
  } else {
    p = await predictWithEscalation(llm, CodeContextSig, { snapshot: snapshot.slice(0, 10000), ask }, {
      ...opts,
      lowSignal,
    });
  }
  return {
    summary: str(p.outputs, "summary"),
    bullets: list(p.outputs, "bullets"),
    entryPoints: list(p.outputs, "entry_points"),
    riskAreas: list(p.outputs, "risk_areas"),
    hotSpots: list(p.outputs, "hot_spots"),
    citations: list(p.outputs, "citations"),
    prediction: p,
  };
}

/** A file the locator proposes. */
export interface FileCandidate {
  path: string;
  score: number;
  reason: string;
}

/** FileLocator: which files to change (only paths from `known` are kept). */
export async function locateFiles(
  llm: LlmClient,
  task: string,
  context: string,
  known: Set<string>,
  opts: ModuleOptions = {},
): Promise<{ candidates: FileCandidate[]; confidence: number; prediction: Prediction }> {
  const p = await predictWithEscalation(llm, FileLocatorSig, { task, context: context.slice(0, 8000) }, {
    ...opts,
    lowSignal: (o) => !Array.isArray(o.file_candidates) || (o.file_candidates as unknown[]).length === 0,
  });
  const raw = Array.isArray(p.outputs.file_candidates) ? p.outputs.file_candidates as unknown[] : [];
  const candidates: FileCandidate[] = [];
  for (const c of raw) {
    const path = typeof c === "string" ? c : (c as Record<string, unknown>)?.path;
    if (typeof path !== "string") continue;
    const clean = path.replace(/^\.\//, "").replace(/^[ab]\//, "");
    if (!known.has(clean) || candidates.some((x) => x.path === clean)) continue;
    const score = Number((c as Record<string, unknown>)?.score ?? 0.5);
    candidates.push({
      path: clean,
      score: Number.isFinite(score) ? score : 0.5,
      reason: String((c as Record<string, unknown>)?.reason ?? ""),
    });
  }
  candidates.sort((a, b) => b.score - a.score);
  return {
    candidates,
    confidence: typeof p.outputs.confidence === "number" ? p.outputs.confidence : 0,
    prediction: p,
  };
}

/** Caps for proposed edits. */
export interface EditCaps {
  maxFiles: number;
  maxLines: number;
}

/** Default caps: 4 files, 200 changed lines. */
export const DEFAULT_CAPS: EditCaps = { maxFiles: 4, maxLines: 200 };

function constraintsText(caps: EditCaps): string {
  return `Caps: files <= ${caps.maxFiles}, total changed lines (add+remove) <= ${caps.maxLines}. Output pure unified ` +
    "diff (no prose), with correct headers (--- a/PATH, +++ b/PATH) and minimal scope. Paths are relative to the " +
    "workspace root.";
}

/** Pulls a diff out of a reply (fenced or bare) and fixes hunk counts. */
export function cleanPatch(text: string): string {
  let t = text;
  const fence = /```(?:diff|patch)?\s*\n([\s\S]*?)```/.exec(t);
  if (fence) t = fence[1];
  const start = t.search(/^(diff --git |--- )/m);
  if (start > 0) t = t.slice(start);
  t = t.replace(/\r\n/g, "\n");
  if (!t.endsWith("\n")) t += "\n";
  return recountHunks(t);
}

/** Local checks on a patch: headers, caps, paths, and a clean in-memory apply. Returns problems (empty = ok). */
export async function localPatchChecks(root: string, patch: string, caps: EditCaps): Promise<string[]> {
  if (!patch.trim()) return ["Empty patch"];
  if (!/^--- /m.test(patch) || !/^\+\+\+ /m.test(patch) || !/^@@ /m.test(patch)) {
    return ["Patch missing unified diff headers (---, +++, @@)"];
  }
  try {
    await preparePatch(root, patch, { maxFiles: caps.maxFiles, maxChangedLines: caps.maxLines });
    return [];
  } catch (err) {
    if (err instanceof PatchError) {
      if (err.reason === "caps") {
        const s = summarizePatch(patch);
        return [
          `Patch too large: files=${s.files}, lines=${
            s.added_lines + s.removed_lines
          } (caps: files<=${caps.maxFiles}, lines<=${caps.maxLines}); ${err.message}`,
        ];
      }
      return [err.message];
    }
    throw err;
  }
}

/** The outcome of CodeEdit. */
export interface EditProposal {
  patch: string;
  rationale: string;
  /** Propose + revise rounds used. */
  attempts: number;
  /** Local checks passed. */
  ok: boolean;
  /** Problems from the last local check. */
  problems: string[];
  critique: string[];
  files: number;
  added: number;
  removed: number;
}

/** CodeEdit: propose a diff, check it locally, and run critic + reviser rounds while it fails. */
export async function proposeEdit(
  llm: LlmClient,
  root: string,
  input: { task: string; context: string; fileHints: string[] },
  caps: EditCaps = DEFAULT_CAPS,
  opts: ModuleOptions & { rounds?: number; onRound?: (round: number, problems: string[]) => void } = {},
): Promise<EditProposal> {
  const constraints = constraintsText(caps);
  const first = await predictWithEscalation(llm, CodeEditSig, {
    task: input.task,
    context: input.context.slice(0, 14000),
    file_hints: input.fileHints.join("\n"),
    constraints,
  }, { ...opts, lowSignal: (o) => !/^--- /m.test(cleanPatch(str(o, "patch"))) });
  let patch = cleanPatch(str(first.outputs, "patch"));
  let rationale = str(first.outputs, "rationale");
  let problems = await localPatchChecks(root, patch, caps);
  let critique: string[] = [];
  let attempts = 1;
  const rounds = opts.rounds ?? 2;
  for (let round = 1; round <= rounds && problems.length; round++) {
    opts.onRound?.(round, problems);
    const critic = await predictWithEscalation(llm, EditCriticSig, {
      task: input.task,
      context: input.context.slice(0, 10000),
      patch,
      constraints,
      check_errors: problems.join("\n"),
    }, { ...opts, mode: "fast" });
    critique = list(critic.outputs, "problems");
    const revised = await predictWithEscalation(llm, ReviseEditSig, {
      task: input.task,
      context: input.context.slice(0, 10000),
      patch,
      critique: [...problems, ...critique, str(critic.outputs, "revise_instructions")].join("\n"),
      constraints,
    }, { ...opts, mode: "fast" });
    attempts++;
    patch = cleanPatch(str(revised.outputs, "patch"));
    rationale = str(revised.outputs, "rationale") || rationale;
    problems = await localPatchChecks(root, patch, caps);
  }
  const s = summarizePatch(patch);
  return {
    patch,
    rationale,
    attempts,
    ok: problems.length === 0,
    problems,
    critique,
    files: s.files,
    added: s.added_lines,
    removed: s.removed_lines,
  };
}

/** PatchVerifier verdict. */
export interface Verdict {
  verdict: "pass" | "fail";
  riskLevel: "low" | "medium" | "high";
  reasons: string[];
  fixSuggestions: string[];
  /** `local` when the pre-checks decided without the model. */
  source: "local" | "llm";
}

/** PatchVerifier: local pre-checks (fail, high risk, no model call), then the model's verdict. */
export async function verifyPatch(
  llm: LlmClient,
  root: string,
  input: { task: string; context: string; patch: string },
  caps: EditCaps = DEFAULT_CAPS,
  opts: ModuleOptions = {},
): Promise<Verdict> {
  const problems = await localPatchChecks(root, input.patch, caps);
  if (problems.length) {
    return { verdict: "fail", riskLevel: "high", reasons: problems, fixSuggestions: [], source: "local" };
  }
  const p = await predictWithEscalation(llm, PatchVerifierSig, {
    task: input.task,
    context: input.context.slice(0, 8000),
    patch: input.patch,
  }, { ...opts, lowSignal: (o) => list(o, "reasons").join(" ").length < 20 });
  return {
    verdict: p.outputs.verdict as "pass" | "fail",
    riskLevel: p.outputs.risk_level as "low" | "medium" | "high",
    reasons: list(p.outputs, "reasons"),
    fixSuggestions: list(p.outputs, "fix_suggestions"),
    source: "llm",
  };
}

/** TestPlanner. */
export async function planTests(
  llm: LlmClient,
  task: string,
  context: string,
  repoLayout: string,
  opts: ModuleOptions = {},
) {
  const p = await predictWithEscalation(llm, TestPlannerSig, {
    task,
    context: context.slice(0, 6000),
    repo_layout: repoLayout,
  }, {
    ...opts,
    mode: opts.mode ?? "fast",
  });
  return {
    testsToRun: list(p.outputs, "tests_to_run"),
    commands: list(p.outputs, "commands"),
    fastPaths: list(p.outputs, "fast_paths"),
  };
}

/** Orchestrator: pick a tool and JSON args for a request. */
export async function orchestrate(llm: LlmClient, query: string, state: string, opts: ModuleOptions = {}) {
  const p = await predictWithEscalation(llm, OrchestrateSig, { query, state: state.slice(0, 6000) }, {
    ...opts,
    lowSignal: (o) => !(String(o.tool) in ROUTE_TOOLS),
  });
  const args = p.outputs.args && typeof p.outputs.args === "object" && !Array.isArray(p.outputs.args)
    ? p.outputs.args as Record<string, unknown>
    : {};
  return { tool: String(p.outputs.tool), args, rationale: str(p.outputs, "rationale"), prediction: p };
}
