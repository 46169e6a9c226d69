/**
 * The edit workflow behind `edit` (and anything else that wants a verified change): locate the files
 * (given, or FileLocator over index hits and the file list) → CodeEdit with critic/reviser rounds while the
 * local checks fail → PatchVerifier → save the proposal under `.dspy_patches/proposed/` → apply it
 * all-or-nothing when asked, the verifier passed and the caller approves → TestPlanner (advice, never run).
 * Every outcome that does not apply is recorded in the patch history, like an applied one. The caller
 * decides how to show progress and results: this module prints nothing.
 *
 * @module
 */

import { join } from "node:path";
import { atomicWriteFile } from "../../core/atomic.ts";
import { UserError } from "../../core/errors.ts";
import { displayPath, resolveInside, workspacePaths } from "../../core/workspace.ts";
import { searchReferences } from "../context/references.ts";
import type { LlmClient } from "../llm/client.ts";
import { applyPatchText, recordPatchAttempt } from "../patch/apply.ts";
import { walkFiles } from "../search/walk.ts";
import {
  DEFAULT_CAPS,
  type EditCaps,
  type EditProposal,
  locateFiles,
  planTests,
  proposeEdit,
  type Verdict,
  verifyPatch,
} from "./programs.ts";

/** What to change. */
export interface EditTaskInput {
  /** The change, in words. */
  task: string;
  /** Files to change, relative to the workspace; empty or absent: the FileLocator picks them. */
  files?: string[];
  /** Caps on files and changed lines (default {@link DEFAULT_CAPS}). */
  caps?: EditCaps;
  /** Critic/reviser rounds while the local checks fail (default 2). */
  rounds?: number;
  /** Extra context put before the files' text. */
  context?: string;
  /** Apply the patch when the verifier passes (and `approve` agrees). Default false: propose only. */
  apply?: boolean;
}

/** A step of the workflow, for progress display. */
export type EditProgress =
  | { kind: "locating" }
  | { kind: "files"; files: string[] }
  | { kind: "round"; round: number; problems: string[] }
  | { kind: "verifying" }
  /** The proposal passed the local checks and has a verdict; nothing is saved or applied yet. */
  | { kind: "verified"; proposal: EditProposal; verdict: Verdict };

/** How the caller takes part. */
export interface EditTaskHooks {
  /**
   * Asked before applying (only with `apply`, and only when the verifier passed); false declines. Absent:
   * apply without asking.
   */
  approve?: (proposal: EditProposal, verdict: Verdict) => boolean | Promise<boolean>;
  /** Called at each step. */
  onProgress?: (progress: EditProgress) => void;
  signal?: AbortSignal;
}

/** The proposal failed the local checks after every round: nothing was verified, saved or applied. */
export interface EditRejected {
  kind: "rejected";
  task: string;
  files: string[];
  proposal: EditProposal;
}

/** The proposal passed the local checks and was verified (the verdict may still be `fail`). */
export interface EditVerified {
  kind: "verified";
  task: string;
  files: string[];
  proposal: EditProposal;
  verdict: Verdict;
  /** Where the diff was saved (absolute), for a later `patch FILE`. */
  proposedPath: string;
  /** {@link EditVerified.proposedPath} as shown to the user (relative to the workspace when inside). */
  proposedDisplay: string;
  applied: boolean;
  /** Why it was applied or not: `verifier-failed`, `not-requested`, `declined` or `applied`. */
  reason: "verifier-failed" | "not-requested" | "declined" | "applied";
  /** What happened, in one sentence a user can act on (also recorded in the patch history). */
  note: string;
  /** The patch id in `.dspy_patches/history.jsonl` when applied. */
  patchId?: string;
  /** TestPlanner's advice when applied (absent if it failed: it is advice only). */
  testPlan?: { testsToRun: string[]; commands: string[] };
}

/** What {@link runEditTask} ended with. */
export type EditOutcome = EditRejected | EditVerified;

/**
 * Runs the edit workflow for `input.task` in workspace `root` with the model `llm`.
 *
 * Throws a `UserError` when a given file is not a file or no file can be located for the task; model
 * errors propagate with their message.
 *
 * @example
 * ```ts
 * const out = await runEditTask(llm, root, { task: "make hello return 2", apply: true }, {
 *   onProgress: (p) => p.kind === "files" && console.log(`Files: ${p.files.join(", ")}`),
 * });
 * if (out.kind === "verified" && out.applied) console.log(`undo: patch --revert ${out.patchId}`);
 * ```
 */
export async function runEditTask(
  llm: LlmClient,
  root: string,
  input: EditTaskInput,
  hooks: EditTaskHooks = {},
): Promise<EditOutcome> {
  const { task } = input;
  const caps = input.caps ?? DEFAULT_CAPS;
  const opts = { workspace: root, signal: hooks.signal };
  const progress = hooks.onProgress ?? (() => {});

  // 1. Files: given, or FileLocator over search hits and the file list.
  const files = input.files?.length
    ? await checkGivenFiles(root, input.files)
    : await locate(llm, root, task, caps, opts, progress);
  progress({ kind: "files", files });

  // 2. CodeEdit with critic/reviser rounds and local checks.
  const context = (input.context ? `${input.context}\n\n` : "") + await filesContext(root, files);
  const proposal = await proposeEdit(llm, root, { task, context, fileHints: files }, caps, {
    ...opts,
    rounds: input.rounds ?? 2,
    onRound: (round, problems) => progress({ kind: "round", round, problems }),
  });
  if (!proposal.ok) {
    await recordPatchAttempt(root, {
      task,
      patch_preview: proposal.patch.slice(0, 2000),
      result: "failure",
      metrics: {
        tool: "edit",
        applied: false,
        verdict: "fail",
        blast_radius: proposal.added + proposal.removed,
      },
      info: { error: proposal.problems.join("; "), critique: proposal.critique },
      file_candidates: files,
      runtime_sec: 0,
    });
    return { kind: "rejected", task, files, proposal };
  }

  // 3. PatchVerifier.
  progress({ kind: "verifying" });
  const verdict = await verifyPatch(llm, root, { task, context, patch: proposal.patch }, caps, opts);
  progress({ kind: "verified", proposal, verdict });

  // 4. Keep the proposal so the user can apply it later with `patch`.
  const proposedPath = join(
    workspacePaths(root).patchesDir,
    "proposed",
    `${new Date().toISOString().replace(/[:.]/g, "-")}.diff`,
  );
  await atomicWriteFile(proposedPath, proposal.patch);
  const proposedDisplay = displayPath(root, proposedPath);

  // 5. Apply, when asked, verified and approved.
  let reason: EditVerified["reason"];
  let note: string;
  let patchId: string | undefined;
  if (verdict.verdict !== "pass") {
    reason = "verifier-failed";
    note = "Refusing to apply: the verifier did not pass.";
  } else if (!input.apply) {
    reason = "not-requested";
    note = `Not applied. Re-run with --apply, or apply the saved diff with 'patch ${proposedDisplay}'.`;
  } else if (hooks.approve && !(await hooks.approve(proposal, verdict))) {
    reason = "declined";
    note = "Not applied (declined).";
  } else {
    const res = await applyPatchText(root, proposal.patch, {
      source: "edit",
      task,
      limits: { maxFiles: caps.maxFiles, maxChangedLines: caps.maxLines },
      metrics: { verdict: verdict.verdict, risk_level: verdict.riskLevel },
      info: { reasons: verdict.reasons, suggestions: verdict.fixSuggestions },
    });
    reason = "applied";
    patchId = res.id;
    note =
      `Applied patch ${res.id}: ${res.files.length} file(s), +${res.added} -${res.removed}. Undo with 'patch --revert ${res.id}'.`;
  }
  const applied = reason === "applied";
  if (!applied) {
    await recordPatchAttempt(root, {
      task,
      patch_preview: proposal.patch.slice(0, 2000),
      result: verdict.verdict === "pass" ? "skipped" : "failure",
      metrics: {
        tool: "edit",
        applied: false,
        verdict: verdict.verdict,
        risk_level: verdict.riskLevel,
        blast_radius: proposal.added + proposal.removed,
      },
      info: { note, reasons: verdict.reasons, proposed: proposedDisplay },
      file_candidates: files,
      runtime_sec: 0,
    });
  }

  // 6. TestPlanner: which tests to run now (advice only; a failure here does not fail the edit).
  let testPlan: EditVerified["testPlan"];
  if (applied) {
    try {
      const plan = await planTests(llm, task, proposal.patch, `files=${files.join(",")}`, opts);
      testPlan = { testsToRun: plan.testsToRun, commands: plan.commands };
    } catch { /* the test plan is advice only */ }
  }
  return {
    kind: "verified",
    task,
    files,
    proposal,
    verdict,
    proposedPath,
    proposedDisplay,
    applied,
    reason,
    note,
    patchId,
    testPlan,
  };
}

/** Given files must stay inside the workspace and be files (a missing one may be created by the patch). */
async function checkGivenFiles(root: string, files: string[]): Promise<string[]> {
  for (const f of files) {
    const info = await Deno.stat(resolveInside(root, f)).catch(() => null);
    if (info && !info.isFile) throw new UserError(`edit: ${f} is not a file`);
  }
  return files;
}

/** FileLocator over the index hits and the file list; falls back to the files of the best hits. */
async function locate(
  llm: LlmClient,
  root: string,
  task: string,
  caps: EditCaps,
  opts: { workspace: string; signal?: AbortSignal },
  progress: (p: EditProgress) => void,
): Promise<string[]> {
  const refs = await searchReferences(root, task, 8);
  const walked = await walkFiles(root, { maxFileBytes: 512 * 1024 });
  const known = new Set(walked.map((w) => w.rel));
  const listing = walked.slice(0, 300).map((w) => w.rel).join("\n");
  const hits = refs.map((r) => `# ${r.path}:${r.start}-${r.end}\n${r.snippet}`).join("\n\n");
  progress({ kind: "locating" });
  const located = await locateFiles(llm, task, `Search hits:\n${hits}\n\nFiles:\n${listing}`, known, opts);
  let files = located.candidates.slice(0, caps.maxFiles).map((c) => c.path);
  if (files.length === 0) files = [...new Set(refs.map((r) => r.path))].slice(0, Math.min(2, caps.maxFiles));
  if (files.length === 0) {
    throw new UserError(`edit: could not find files for "${task}"; name them with --files F1,F2`);
  }
  return files;
}

/** The files' text for the model, `=== path ===` headed, sharing `maxChars` (long files are cut). */
async function filesContext(root: string, files: string[], maxChars = 14000): Promise<string> {
  const parts: string[] = [];
  let used = 0;
  for (const f of files) {
    let text: string;
    try {
      text = await Deno.readTextFile(resolveInside(root, f));
    } catch {
      continue;
    }
    const budget = Math.max(1000, Math.floor((maxChars - used) / Math.max(1, files.length - parts.length)));
    const body = text.length > budget ? text.slice(0, budget) + "\n... [file truncated] ..." : text;
    parts.push(`=== ${f} ===\n${body}`);
    used += body.length;
  }
  return parts.join("\n\n");
}
