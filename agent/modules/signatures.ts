/**
 * The agent's signatures (fields and instructions after the old tool's DSPy skills): ContextBuilder,
 * TaskAgent, CodeContext and its retrieval variant with citations, FileLocator, CodeEdit with its critic and
 * reviser, PatchVerifier, TestPlanner and the Orchestrator that routes natural-language requests.
 *
 * @module
 */

import type { Signature } from "./predict.ts";

/** Summarise logs into actionable context. */
export const BuildContextSig: Signature = {
  name: "ContextBuilder",
  instructions:
    "Summarize logs into actionable context for a coding task. Extract key errors, likely causes, and " +
    "concrete hints. Keep summary tight, then provide bullets and any missing info that would unblock next steps.",
  inputs: [
    { name: "task", desc: "What the user wants to do" },
    { name: "logs_preview", desc: "Key events extracted from the workspace logs" },
  ],
  outputs: [
    { name: "context", desc: "Concise context and key findings" },
    { name: "key_points", desc: "Errors and clues, one per item", type: "list" },
    { name: "missing_info", desc: "What else would help", type: "list", optional: true },
    { name: "next_steps", desc: "Concrete next steps", type: "list", optional: true },
  ],
};

/** Plan a task. */
export const PlanTaskSig: Signature = {
  name: "TaskAgent",
  instructions: "Given a task and context, propose a short, safe plan and exact commands. Constraints: " +
    "Non-destructive by default; call out any risky steps explicitly. Prefer concrete, copy-pasteable shell " +
    "commands aligned to the plan. Keep it concise (<= 10 steps) and include assumptions/risks.",
  inputs: [
    { name: "task", desc: "The task" },
    { name: "context", desc: "Context from logs and code search" },
  ],
  outputs: [
    { name: "plan", desc: "Ordered, concise steps to proceed", type: "list" },
    { name: "commands", desc: "Copy-pasteable shell commands", type: "list" },
    { name: "assumptions", desc: "Assumptions made", type: "list", optional: true },
    { name: "risks", desc: "Risky steps or things that could go wrong", type: "list", optional: true },
  ],
};

/** Summarise a code snapshot. */
export const CodeContextSig: Signature = {
  name: "CodeContext",
  instructions:
    "Summarize a code snapshot for understanding and planning. Return a tight summary and bullets " +
    "listing components, important functions/classes, likely entry points, and risky areas relevant to the ask.",
  inputs: [
    { name: "snapshot", desc: "Outline and excerpts of the code" },
    { name: "ask", desc: "What the user wants to understand" },
  ],
  outputs: [
    { name: "summary", desc: "A tight summary" },
    { name: "bullets", desc: "Components and important functions/classes", type: "list" },
    { name: "entry_points", desc: "Likely entry points", type: "list" },
    { name: "risk_areas", desc: "Risky or fragile areas", type: "list" },
  ],
};

/** Code context with retrieved snippets and citations. */
export const CodeContextRagSig: Signature = {
  name: "CodeContextRAG",
  instructions: CodeContextSig.instructions +
    " Use the retrieved snippets and cite them as path:start-end from the references.",
  inputs: [
    ...CodeContextSig.inputs,
    { name: "retrieved_snippets", desc: "Search hits, each headed '# path:start-end (score=x)'" },
    { name: "references", desc: "JSON list of {path, start, end, score}" },
  ],
  outputs: [
    ...CodeContextSig.outputs,
    { name: "hot_spots", desc: "Places most relevant to the ask", type: "list", optional: true },
    {
      name: "citations",
      desc: "path:start-end references backing the summary",
      type: "list",
      optional: true,
    },
  ],
};

/** Locate the files to change. */
export const FileLocatorSig: Signature = {
  name: "FileLocator",
  instructions:
    "Identify likely files/modules to modify for the task. Return a JSON list of candidate objects " +
    "with fields: path, score (0-1), reason. Only use paths that appear in the context.",
  inputs: [
    { name: "task", desc: "The change to make" },
    { name: "context", desc: "Search hits and the file list" },
  ],
  outputs: [
    { name: "file_candidates", desc: "JSON list: [{path, score, reason}]", type: "json" },
    { name: "confidence", desc: "0-1", type: "number", optional: true },
    { name: "notes", desc: "Notes", optional: true },
  ],
};

/** Propose a change as a unified diff. */
export const CodeEditSig: Signature = {
  name: "CodeEdit",
  instructions:
    "Propose a minimal, safe code change as a unified diff. Constraints: Output a standard unified " +
    "diff with correct headers (--- a/PATH, +++ b/PATH, @@ hunks) and exact context lines copied from the files " +
    "shown, no extra prose. Keep the change minimal and directly tied to the task/context. Prefer focused fixes " +
    "over refactors; avoid unrelated formatting/noise. If unsure, narrow scope and add a short rationale.",
  inputs: [
    { name: "task", desc: "The change to make" },
    { name: "context", desc: "Relevant files with line numbers" },
    { name: "file_hints", desc: "Files most likely to change" },
    { name: "constraints", desc: "Size caps and format rules" },
  ],
  outputs: [
    { name: "patch", desc: "Unified diff patch (git-style)" },
    { name: "rationale", desc: "Why this change", optional: true },
  ],
};

/** Criticise a proposed patch. */
export const EditCriticSig: Signature = {
  name: "EditCritic",
  instructions:
    "Review a proposed unified diff against the task, the context and the constraints. List concrete " +
    "problems (wrong context lines, bad headers, scope creep, bugs) and precise instructions to fix them.",
  inputs: [
    { name: "task", desc: "The change to make" },
    { name: "context", desc: "Relevant files" },
    { name: "patch", desc: "The proposed diff" },
    { name: "constraints", desc: "Caps and format rules" },
    { name: "check_errors", desc: "Errors from applying the diff locally" },
  ],
  outputs: [
    { name: "problems", desc: "Problems found", type: "list" },
    { name: "revise_instructions", desc: "How to fix the patch" },
  ],
};

/** Revise a patch after critique. */
export const ReviseEditSig: Signature = {
  name: "ReviseEdit",
  instructions:
    "Rewrite the unified diff so that it fixes the listed problems. Output a complete, valid unified " +
    "diff whose context lines match the files exactly.",
  inputs: [
    { name: "task", desc: "The change to make" },
    { name: "context", desc: "Relevant files" },
    { name: "patch", desc: "The previous diff" },
    { name: "critique", desc: "Problems and how to fix them" },
    { name: "constraints", desc: "Caps and format rules" },
  ],
  outputs: [
    { name: "patch", desc: "The corrected unified diff" },
    { name: "rationale", desc: "What changed", optional: true },
  ],
};

/** Verify a patch. */
export const PatchVerifierSig: Signature = {
  name: "PatchVerifier",
  instructions:
    "Assess whether a proposed patch is safe and appropriate. Provide a pass/fail verdict, a coarse " +
    "risk level (low/medium/high), brief reasons, and specific suggestions for fixes if failing or risky.",
  inputs: [
    { name: "task", desc: "The change requested" },
    { name: "context", desc: "Relevant code" },
    { name: "patch", desc: "The unified diff" },
  ],
  outputs: [
    { name: "verdict", desc: "pass or fail", type: "enum", values: ["pass", "fail"] },
    { name: "risk_level", desc: "low, medium or high", type: "enum", values: ["low", "medium", "high"] },
    { name: "reasons", desc: "Brief reasons", type: "list" },
    { name: "fix_suggestions", desc: "Fixes when failing or risky", type: "list", optional: true },
  ],
};

/** Plan tests for a change. */
export const TestPlannerSig: Signature = {
  name: "TestPlanner",
  instructions:
    "Plan targeted tests to validate a change. Given a task/context and a repo layout, list the tests " +
    "to run, exact commands and the fastest paths to confidence.",
  inputs: [
    { name: "task", desc: "The change" },
    { name: "context", desc: "The patch and its files" },
    { name: "repo_layout", desc: "Overview: test dir, packages, tooling" },
  ],
  outputs: [
    { name: "tests_to_run", desc: "Tests to run", type: "list" },
    { name: "commands", desc: "Exact commands", type: "list" },
    { name: "fast_paths", desc: "Quickest checks first", type: "list", optional: true },
    { name: "assumptions", desc: "Assumptions", type: "list", optional: true },
  ],
};

/** The routing tools the orchestrator may pick, with their arguments. */
export const ROUTE_TOOLS: Record<string, string> = {
  grep: '{"pattern": REGEX, "glob"?: GLOB}: search file contents',
  esearch: '{"query": TEXT, "k"?: N}: ranked code search over the index',
  extract: '{"file": PATH, "symbol"?: NAME, "regex"?: RX}: show a symbol or match',
  ctx: "{}: key errors/warnings from the workspace logs",
  codectx: '{"path"?: PATH}: code snapshot and summary',
  plan: '{"task": TEXT}: a step-by-step plan',
  tree: '{"path"?: PATH, "depth"?: N}: folder tree',
  ls: '{"path"?: PATH}: list a folder',
  index: "{}: (re)build the code index",
  "run-tests": "{}: run the project's tests",
  lint: "{}: run the linter",
  build: "{}: build/type-check",
  gstatus: "{}: git status",
  glog: '{"path"?: PATH, "n"?: N}: recent commits (of a path)',
  gdiff: '{"path"?: PATH, "staged"?: BOOL}: the uncommitted changes as a diff',
  edit: '{"task": TEXT, "files"?: [PATH]}: propose a verified patch (applied only on explicit request)',
};

/** Choose a tool for a request. */
export const OrchestrateSig: Signature = {
  name: "Orchestrator",
  instructions: "Choose the best CLI tool and arguments for the user's intent. Keep choices safe and " +
    "non-destructive unless explicitly requested. Tools:\n" +
    Object.entries(ROUTE_TOOLS).map(([t, d]) => `- ${t} ${d}`).join("\n"),
  inputs: [
    { name: "query", desc: "The user's request" },
    { name: "state", desc: "Workspace state and the results of earlier steps" },
  ],
  outputs: [
    { name: "tool", desc: "One tool name from the list", type: "enum", values: Object.keys(ROUTE_TOOLS) },
    { name: "args", desc: "JSON object of arguments for the tool", type: "json", optional: true },
    { name: "rationale", desc: "One sentence: why this tool", optional: true },
  ],
};
