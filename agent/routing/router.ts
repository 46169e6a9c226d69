/**
 * Natural-language routing (session lines that are not commands, and `chat`). Each step picks a tool:
 * the LLM Orchestrator when a model is ready, otherwise the offline rules (e.g. "where is X" → grep for X's
 * definition, tests → run-tests, explain → codectx, semantic words → esearch), with the persisted bandit
 * ordering equally good candidates and exploring. The chosen command runs through the normal dispatcher
 * (so it is scored, learnt from and recorded like any command), each step is shown, and the loop stops at
 * `maxSteps`, on a good score, on a repeated action, or after a tool that answers by itself (plan, tests,
 * edit). Edits proposed by routing are never applied: the user re-runs `edit --apply` or `patch`.
 *
 * @module
 */

import { emitAction } from "../../core/events.ts";
import { errorMessage } from "../../core/errors.ts";
import { escapeRegExp } from "../../core/regex.ts";
import type { Bandit } from "../../learning/mod.ts";
import { scoreOutcome } from "../learning/scoring.ts";
import { loadToolBandit } from "../learning/tool_learning.ts";
import type { LlmClient } from "../llm/client.ts";
import { orchestrate } from "../modules/programs.ts";
import { ROUTE_TOOLS } from "../modules/signatures.ts";

/** A candidate action. */
export interface RouteCandidate {
  tool: string;
  args: string[];
  /** Why this rule fired. */
  why: string;
  /** 0 = a specific rule matched; 1 = generic fallback (the bandit orders these). */
  tier: number;
}

/** What the router needs from its host (the CLI context, or a test harness). */
export interface RouteHost {
  workspace: string;
  /** Runs a command line; returns `{ok, data, error}`. */
  runLine(line: string): Promise<{ ok: boolean; data?: unknown; error?: string }>;
  print(...lines: string[]): void;
  warn(message: string): void;
  /**
   * Asks before each step (manual approval, as the old tool's `Approve tool 'X' with args {...}?`); a step
   * that is not approved stops the loop. Absent: steps run without asking.
   */
  approve?(tool: string, args: string[]): Promise<boolean>;
  /** A ready LLM, or undefined for offline routing. */
  llm?: LlmClient;
  signal?: AbortSignal;
}

/** One executed step. */
export interface RouteStep {
  step: number;
  mode: "llm" | "offline";
  tool: string;
  args: string[];
  ok: boolean;
  score: number;
  evidence: string;
}

const STOPWORDS = new Set(
  "the a an is are was were be to of in on for and or with what where how why which who does do did can could should would this that these those it its my our your me we you please show find tell about from into code file files function class method"
    .split(
      " ",
    ),
);

/** Key words of a query (for grep/esearch arguments). */
export function keywords(query: string): string[] {
  return [
    ...new Set(
      (query.match(/[A-Za-z_][A-Za-z0-9_.]*/g) ?? []).filter((w) =>
        w.length > 2 && !STOPWORDS.has(w.toLowerCase())
      ),
    ),
  ];
}

/**
 * The offline rules, in order; the first tier-0 match wins, generic fallbacks are tier 1.
 *
 * @example
 * ```ts
 * offlineCandidates("where is parseConfig")[0]; // {tool: "grep", args: ["(def|class|function|...)\\s+parseConfig\\b"], ...}
 * ```
 */
export function offlineCandidates(query: string, state: { hasLogs?: boolean } = {}): RouteCandidate[] {
  const q = query.trim();
  const lower = q.toLowerCase();
  const out: RouteCandidate[] = [];
  const words = keywords(q);
  const where =
    /\b(?:where\s+is|where's|where\s+are|find\s+(?:the\s+)?(?:definition|declaration)\s+of|definition\s+of|defined)\s+(?:the\s+)?(?:function\s+|class\s+|method\s+|type\s+|symbol\s+)?[`'"]?([A-Za-z_][\w.]*)/i
      .exec(q);
  if (where) {
    const sym = where[1].split(".").pop()!;
    out.push({
      tool: "grep",
      args: [
        `(def|class|function|fn|func|interface|type|struct|enum|const|let|var)\\s+${escapeRegExp(sym)}\\b`,
      ],
      why: `"where is ${sym}" → grep for its definition`,
      tier: 0,
    });
    out.push({ tool: "esearch", args: [sym], why: `ranked search for ${sym}`, tier: 0 });
    return out;
  }
  const quoted = /["'`]([^"'`]{2,80})["'`]/.exec(q);
  if (
    /\b(run|rerun|execute)\b.*\btests?\b|\b(pytest|unittest|test suite|failing tests?|tests? fail)/i.test(q)
  ) {
    out.push({ tool: "run-tests", args: [], why: "tests → run-tests", tier: 0 });
  } else if (/\b(lint|linter|format(ting)?|style check|eslint|ruff|clippy)\b/i.test(q)) {
    out.push({ tool: "lint", args: [], why: "lint/format → lint", tier: 0 });
  } else if (/\b(build|compile|type-?check)\b/i.test(q)) {
    out.push({ tool: "build", args: [], why: "build → build", tier: 0 });
  } else if (/\bgit\b.*\bstatus\b|\bwhat (?:has )?changed\b|\buncommitted\b/i.test(q)) {
    out.push({ tool: "gstatus", args: [], why: "changes → gstatus", tier: 0 });
  } else if (/\b(errors?|logs?|crash(es|ed)?|traceback|exception|stack ?trace|warnings?)\b/i.test(q)) {
    out.push({ tool: "ctx", args: [], why: "errors/logs → ctx", tier: 0 });
    if (words.length) out.push({ tool: "esearch", args: [words.join(" ")], why: "related code", tier: 1 });
  } else if (
    /\b(explain|overview|how does|what does .* do|architecture|walk ?through|summar(y|ise|ize)|describe)\b/i
      .test(q)
  ) {
    const path = /\b([\w./-]+\.(?:ts|tsx|js|py|go|rs|md|json))\b/.exec(q)?.[1] ??
      /\b(src|lib|app|cli|agent|tests?)\/?\b/.exec(q)?.[1];
    out.push({ tool: "codectx", args: path ? [path] : [], why: "explain → codectx", tier: 0 });
  } else if (/^(plan|how (do|should|can) (i|we))\b/i.test(lower)) {
    out.push({ tool: "plan", args: [q.replace(/^plan\s+/i, "")], why: "how-to → plan", tier: 0 });
  } else if (/\b(tree|structure|layout|list (the )?files)\b/i.test(q)) {
    out.push({ tool: "tree", args: [], why: "structure → tree", tier: 0 });
  } else if (/\b(re)?index\b/i.test(q)) {
    out.push({ tool: "index", args: [], why: "index → index", tier: 0 });
  } else if (quoted || /\b(grep|search for|look for|occurrences? of|usages? of|find)\b/i.test(q)) {
    const pattern = quoted?.[1] ?? words.slice(-1)[0] ?? q;
    out.push({ tool: "grep", args: ["--fixed", pattern], why: `search → grep "${pattern}"`, tier: 0 });
  } else if (/\b(semantic|similar|related|relevant|vector|embedding|about)\b/i.test(q) && words.length) {
    out.push({ tool: "esearch", args: [words.join(" ")], why: "semantic words → esearch", tier: 0 });
  }
  // Generic fallbacks (the bandit orders them).
  if (words.length) {
    out.push({ tool: "esearch", args: [words.join(" ")], why: "ranked code search", tier: 1 });
    out.push({
      tool: "grep",
      args: ["--ignore-case", words.map(escapeRegExp).join("|")],
      why: "keyword grep",
      tier: 1,
    });
  }
  out.push(
    state.hasLogs
      ? { tool: "ctx", args: [], why: "log events", tier: 1 }
      : { tool: "codectx", args: [], why: "code overview", tier: 1 },
  );
  return out;
}

/**
 * Orders candidates: tier first; within a tier the bandit's learnt values, and with probability ε (or
 * whatever the bandit's own exploration picks) its choice goes first.
 */
export function orderCandidates(candidates: RouteCandidate[], bandit?: Bandit): RouteCandidate[] {
  if (!bandit) return candidates;
  const values = new Map(bandit.ranking().map((r) => [r.tool, r.value]));
  const explore = bandit.select();
  return [...candidates].sort((a, b) => {
    if (a.tier !== b.tier) return a.tier - b.tier;
    if (a.tier === 0) return 0; // specific rules keep their order
    if (a.tool === explore && b.tool !== explore) return -1;
    if (b.tool === explore && a.tool !== explore) return 1;
    return (values.get(b.tool) ?? 0) - (values.get(a.tool) ?? 0);
  });
}

/** Quotes a word for the session line tokenizer. */
export function quoteArg(s: string): string {
  if (/^[A-Za-z0-9_./:=,+-]+$/.test(s)) return s;
  return `"${s.replace(/[\\"$`]/g, (m) => "\\" + m)}"`;
}

const VALUE_FLAGS = new Set(["--glob", "--k", "--file", "--symbol", "--regex", "--files", "-d"]);
const BOOL_FLAGS = new Set(["--fixed", "--ignore-case"]);

/**
 * Makes a step's argv safe to parse: a value that starts with `-` (a pattern like `--verbose` from the
 * request or the model) must never be read as an option (`--apply` included). Long-flag values are written
 * as `--flag=value` and the positionals go after `--`; argv without such values is returned unchanged.
 *
 * @example
 * ```ts
 * routeArgv(["--fixed", "--apply"]); // ["--fixed", "--", "--apply"]
 * ```
 */
export function routeArgv(args: string[]): string[] {
  if (!args.some((a) => a.startsWith("-") && !VALUE_FLAGS.has(a) && !BOOL_FLAGS.has(a))) {
    return args;
  }
  const opts: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (VALUE_FLAGS.has(a) && i + 1 < args.length) {
      const v = args[++i];
      if (a.startsWith("--")) opts.push(`${a}=${v}`);
      else opts.push(a, v);
    } else if (BOOL_FLAGS.has(a)) opts.push(a);
    else positionals.push(a);
  }
  return [...opts, "--", ...positionals];
}

/** Converts the orchestrator's JSON args into argv for a tool (never `--apply`). */
export function argsFor(tool: string, a: Record<string, unknown>, query: string): string[] {
  const s = (
    k: string,
  ) => (typeof a[k] === "string" && (a[k] as string).trim() ? (a[k] as string).trim() : undefined);
  const n = (k: string) =>
    typeof a[k] === "number" && (a[k] as number) >= 0 ? String(Math.floor(a[k] as number)) : undefined;
  const words = keywords(query);
  switch (tool) {
    case "grep": {
      const out = [s("pattern") ?? s("query") ?? words.join("|") ?? query];
      if (s("glob")) out.push("--glob", s("glob")!);
      return out;
    }
    case "esearch":
      return [s("query") ?? (words.join(" ") || query), ...(n("k") ? ["--k", n("k")!] : [])];
    case "extract":
      if (!s("file")) return [];
      return [
        "--file",
        s("file")!,
        ...(s("symbol")
          ? ["--symbol", s("symbol")!]
          : s("regex")
          ? ["--regex", s("regex")!]
          : ["--regex", words[0] ?? "."]),
      ];
    case "codectx":
    case "ls":
      return s("path") ? [s("path")!] : [];
    case "tree":
      return [...(s("path") ? [s("path")!] : []), ...(n("depth") ? ["-d", n("depth")!] : [])];
    case "plan":
      return [s("task") ?? query];
    case "edit": {
      const files = Array.isArray(a.files)
        ? (a.files as unknown[]).filter((f) => typeof f === "string") as string[]
        : [];
      return [s("task") ?? query, ...(files.length ? ["--files", files.join(",")] : [])];
    }
    default:
      return [];
  }
}

const TERMINAL = new Set(["plan", "run-tests", "lint", "build", "edit", "index", "gstatus"]);

/** Runs the routing loop for one request. */
export async function routeRequest(
  query: string,
  host: RouteHost,
  options: { maxSteps?: number; state?: { hasLogs?: boolean } } = {},
): Promise<{ steps: RouteStep[]; best?: RouteStep }> {
  const maxSteps = Math.max(1, options.maxSteps ?? 4);
  let bandit: Bandit | undefined;
  try {
    bandit = await loadToolBandit(host.workspace);
  } catch { /* learning unavailable: rules only */ }
  const offline = orderCandidates(offlineCandidates(query, options.state), bandit);
  const steps: RouteStep[] = [];
  const seen = new Set<string>();
  let llm = host.llm;
  let offlineIndex = 0;
  for (let step = 1; step <= maxSteps; step++) {
    if (host.signal?.aborted) break;
    let choice: { tool: string; args: string[]; why: string; mode: "llm" | "offline" } | undefined;
    if (llm) {
      try {
        const state = [
          `workspace=${host.workspace}, logs_exist=${options.state?.hasLogs === true}`,
          ...steps.map((s) =>
            `step ${s.step}: ${s.tool} ${s.args.join(" ")} → ${s.ok ? "ok" : "failed"}; ${s.evidence}`
          ),
        ].join("\n");
        const o = await orchestrate(llm, query, state, { workspace: host.workspace, signal: host.signal });
        if (o.tool in ROUTE_TOOLS) {
          choice = {
            tool: o.tool,
            args: argsFor(o.tool, o.args, query),
            why: o.rationale || "LLM orchestrator",
            mode: "llm",
          };
        }
      } catch (err) {
        host.warn(`LLM routing failed (${errorMessage(err)}); using the offline rules`);
        llm = undefined;
      }
    }
    if (!choice) {
      while (offlineIndex < offline.length && seen.has(key(offline[offlineIndex]))) offlineIndex++;
      const c = offline[offlineIndex++];
      if (!c) break;
      choice = { tool: c.tool, args: c.args, why: c.why, mode: "offline" };
    }
    choice.args = routeArgv(choice.args);
    const k = key(choice);
    if (seen.has(k)) {
      host.print("No new action; summarizing results.");
      break;
    }
    seen.add(k);
    const line = [choice.tool, ...choice.args].map(quoteArg).join(" ");
    host.print(`Step ${step}: ${[choice.tool, ...choice.args].join(" ")}   (${choice.mode}: ${choice.why})`);
    if (host.approve && !(await host.approve(choice.tool, choice.args))) {
      host.print(`Step ${step} not approved; stopping.`);
      break;
    }
    emitAction("route_decision", { mode: choice.mode, tool: choice.tool, args: choice.args, step });
    const result = await host.runLine(line);
    const scored = scoreOutcome({ tool: choice.tool, args: choice.args, ok: result.ok, data: result.data }) ??
      { score: result.ok ? 1 : 0, evidence: result.ok ? "ok" : result.error ?? "failed" };
    steps.push({ step, mode: choice.mode, tool: choice.tool, args: choice.args, ok: result.ok, ...scored });
    if (scored.score >= 1 || TERMINAL.has(choice.tool)) break;
  }
  const best = [...steps].sort((a, b) => b.score - a.score)[0];
  return { steps, best };
}

function key(c: { tool: string; args: string[] }): string {
  return `${c.tool}\0${c.args.join("\0")}`;
}
