/**
 * Tool scoring: turns one command's result into a score (the old tool's reward table, with its flaws
 * fixed: scores come from what the command actually returned — no tool is re-run to evaluate it, plan and
 * edit are scored on their real output, tree/ls/index get credit, failures score 0) and a bandit reward in
 * [0, 1] (`score / 2`, clipped). Unknown or housekeeping commands are not scored for learning.
 *
 * @module
 */

/** What the scorer needs from a command run. */
export interface ScoredOutcome {
  tool: string;
  args: string[];
  ok: boolean;
  data?: unknown;
}

/** A score with its evidence (shown in routing steps and recorded). */
export interface ToolScore {
  score: number;
  evidence: string;
}

/** Commands the bandit learns about (the arms). */
export const LEARNABLE_TOOLS: readonly string[] = [
  "ctx",
  "codectx",
  "grep",
  "esearch",
  "extract",
  "plan",
  "tree",
  "ls",
  "index",
  "edit",
  "patch",
  "run-tests",
  "lint",
  "build",
  "gstatus",
];

function coverage(args: string[], texts: string[]): number {
  const targets = [...new Set(args.join(" ").toLowerCase().match(/[a-z_][a-z0-9_]{2,}/g) ?? [])].slice(0, 5);
  if (!targets.length) return 0;
  const hay = texts.join("\n").toLowerCase();
  return targets.filter((t) => hay.includes(t)).length / targets.length;
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** Scores a command result; undefined for commands that are not learnable. */
export function scoreOutcome(o: ScoredOutcome): ToolScore | undefined {
  if (!LEARNABLE_TOOLS.includes(o.tool)) return undefined;
  const d = (o.data ?? {}) as Record<string, unknown>;
  // Test/lint/build runs that ran but reported failures still carry a graded signal.
  if (!o.ok && d.ran !== true) return { score: 0, evidence: `${o.tool} failed` };
  switch (o.tool) {
    case "grep": {
      const hits = num(d.matches);
      // A flood cut at --max located nothing: half credit, so routing goes on and the bandit learns it.
      if (d.truncated === true) return { score: 0.5, evidence: `grep hits=${hits}+ (stopped at --max)` };
      const texts = Array.isArray(d.hits)
        ? (d.hits as { text?: string; path?: string }[]).map((h) => `${h.path} ${h.text}`)
        : [];
      const cov = hits ? coverage(o.args.filter((a) => !a.startsWith("-")), texts) : 0;
      return { score: (hits > 0 ? 1 : 0) + 0.5 * cov, evidence: `grep hits=${hits} cov=${cov.toFixed(2)}` };
    }
    case "esearch": {
      const hits = Array.isArray(d.hits) ? d.hits as { path?: string }[] : [];
      const cov = hits.length
        ? coverage(o.args.filter((a) => !a.startsWith("-")), hits.map((h) => String(h.path)))
        : 0;
      return { score: (hits.length > 0 ? 1 : 0) + 0.5 * cov, evidence: `esearch hits=${hits.length}` };
    }
    case "extract":
      return {
        score: d.path ? 1 : 0,
        evidence: `extract segment=${d.start_line ?? "?"}-${d.end_line ?? "?"}`,
      };
    case "ctx": {
      const events = num(d.events);
      return {
        score: (events > 0 ? 1 : 0) + (num(d.errors) > 0 ? 0.3 : 0) + (d.summary ? 0.2 : 0),
        evidence: `context logs_found=${num(d.files) > 0} events_len=${events}`,
      };
    }
    case "codectx":
      return {
        score: (num(d.snapshot_len) > 0 ? 1 : 0) + (d.summary ? 0.5 : 0),
        evidence: `codectx snapshot_len=${num(d.snapshot_len)}`,
      };
    case "plan": {
      const steps = Array.isArray(d.plan) ? d.plan.length : 0;
      const cmds = Array.isArray(d.commands) ? d.commands.length : 0;
      return { score: steps >= 2 ? 1 + (cmds > 0 ? 0.2 : 0) : 0.2, evidence: `plan steps_detected=${steps}` };
    }
    case "edit": {
      const lines = num(d.added) + num(d.removed);
      let score = d.patch ? 0.8 : 0;
      if (d.patch && lines <= 200) score += 0.2;
      if (d.verdict === "pass") score += 0.5;
      if (d.applied) score += 0.3;
      return {
        score,
        evidence: `edit patch_lines=${lines} verdict=${d.verdict ?? "-"} applied=${Boolean(d.applied)}`,
      };
    }
    case "patch": {
      if (d.reverted || d.list) return { score: 0.5, evidence: "patch housekeeping" };
      const blast = num(d.added) + num(d.removed);
      return { score: 1 + (blast > 400 ? -0.3 : 0), evidence: `patch applied=true blast_radius=${blast}` };
    }
    case "run-tests": {
      const total = num(d.total);
      if (!total) return { score: 0.3, evidence: "run_tests total=0" };
      const pr = num(d.passed) / Math.max(1, num(d.passed) + num(d.failed));
      return {
        score: 0.4 + 0.6 * pr + (num(d.failed) === 0 ? 0.2 : 0),
        evidence: `run_tests total=${total} passed=${num(d.passed)} failed=${num(d.failed)} pr=${
          pr.toFixed(2)
        }`,
      };
    }
    case "lint":
    case "build": {
      const good = d.passed === true;
      return {
        score: 0.4 + (good ? 0.6 : 0),
        evidence: `${o.tool} ok=${good}${o.tool === "lint" ? ` issues=${num(d.issues)}` : ""}`,
      };
    }
    case "index":
      return { score: num(d.chunks) > 0 ? 0.5 : 0, evidence: `index chunks=${num(d.chunks)}` };
    case "tree":
    case "ls":
    case "gstatus":
      return { score: 1, evidence: `${o.tool} ok` };
  }
  return undefined;
}

/** Bandit reward: `score / 2` clipped to [0, 1] (NaN → 0). */
export function rewardOf(score: number): number {
  if (!Number.isFinite(score)) return 0;
  return Math.min(1, Math.max(0, score / 2));
}
