/**
 * Natural-language routing (session lines that are not commands, and `chat`). Each step picks a tool:
 * the LLM Orchestrator when a model is ready, otherwise the offline rules (a request for a task → that tool,
 * "usages of X" or a quoted string → grep, any other question → esearch; see {@link offlineCandidates}), with
 * the persisted bandit ordering the generic fallbacks and exploring. The chosen command runs through the normal dispatcher
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
  /**
   * A step to take right after this one when it succeeded, built from its result (a name's lookup, then its
   * definition shown whole); undefined from it: none.
   */
  then?: (data: unknown) => RouteCandidate | undefined;
}

/** After a name's lookup: `extract` the definition the best hit holds, when one holds `name`. */
function showDefinition(name: string): (data: unknown) => RouteCandidate | undefined {
  const last = name.split(".").pop()!;
  return (data) => {
    const hits = (data as { hits?: { path?: unknown; symbol?: unknown }[] } | undefined)?.hits ?? [];
    const hit = hits.find((h) =>
      typeof h.path === "string" && typeof h.symbol === "string" &&
      (h.symbol === name || h.symbol === last || h.symbol.endsWith(`.${last}`))
    );
    if (!hit) return undefined;
    const symbol = hit.symbol as string;
    return {
      tool: "extract",
      args: ["--file", hit.path as string, "--symbol", symbol],
      why: `show ${symbol} whole`,
      tier: 0,
    };
  };
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
 * True for a word written as code rather than prose: `parse_config`, `parseConfig`, `RequestQueue`,
 * `Server.listen`, `__init__`. A plain word (`heartbeat`, `Retry`) is not.
 */
export function looksLikeIdentifier(word: string): boolean {
  if (!/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/.test(word)) return false;
  return /[A-Za-z0-9]_[A-Za-z0-9]|^_|[a-z0-9][A-Z]|[A-Z]{2,}[a-z]|\./.test(word);
}

/**
 * Words that ask for something rather than name it, removed from the front of a search request: "can you
 * please show me where the code that we use to …" → "…". Built from its parts, in the order they come.
 */
const ASKING = new RegExp(
  "^" + [
    String.raw`(?:(?:please|hey|ok|so|now)[,\s]+)*`, // "ok, please"
    String.raw`(?:(?:can|could|would|will) you\s+)?(?:(?:please|help me)\s+)?`, // "can you please"
    // One or more asking words: "find", "show me where", "which file handles", "what does", "how is".
    String.raw`(?:(?:` + [
      String.raw`find|search(?:\s+for)?|look\s+(?:for|up)|locate|show(?:\s+me)?|tell\s+me|give\s+me`,
      String.raw`explain|describe`,
      String.raw`where(?:'s|\s+is|\s+are|\s+do(?:es)?|\s+did)?`,
      String.raw`which\s+(?:files?|code|functions?|modules?|class(?:es)?|part|methods?)` +
      String.raw`(?:\s+(?:is|are|does|do|has|have|handles?|contains?))?`,
      String.raw`what(?:'s|\s+is|\s+are|\s+does|\s+do)?`,
      String.raw`how(?:\s+(?:does|do|is|are|can|did))?`,
    ].join("|") + String.raw`)\b\s*)+`,
    // "the code that"
    String.raw`(?:(?:the\s+|this\s+)?(?:code|place|file|function|logic|part)s?\s+` +
    String.raw`(?:that|to|which|for|where|of)\s+)?`,
    String.raw`(?:(?:we|i|it|they|you|the\s+code|this\s+code|the\s+project)\s+)?`, // "we"
    String.raw`(?:the\s+)?(?:(?:definition|declaration|implementation|source)\s+(?:of|for)\s+)?`, // "the definition of"
    String.raw`(?:the\s+)?(?:(?:function|class|method|type|symbol|variable|constant)\s+)?`, // "the function"
  ].join(""),
  "i",
);

/** Trailing words of a symbol lookup: "where is X defined", "what does X do", "X implemented?". */
const LOOKUP_TAIL =
  /\s+(?:(?:is|are)\s+)?(?:defined|declared|implemented|used|located|live|lives|do|does|work|works|mean|means)$/i;

/** What a search request is about: the request without its asking words, quotes and final punctuation. */
export function searchSubject(query: string): string {
  const trimmed = query.trim().replace(/[?.!\s]+$/, "");
  const subject = trimmed.replace(ASKING, "").replace(/^["'`]|["'`]$/g, "").trim();
  return subject || trimmed;
}

/** A case-insensitive regex matching any of `parts` (one alternative each, written with `String.raw`). */
function anyOf(...parts: string[]): RegExp {
  return new RegExp(parts.join("|"), "i");
}

/**
 * How a request for a task is phrased. A task's word anywhere in a request is not enough: "build an SSL
 * context", "log the stack trace" and "a layout given in the struct tag" describe code to find. `build`,
 * `tree`, `lint` and `index` are tested on the request without its final punctuation.
 */
const ASKS_FOR = {
  tests: anyOf(
    String.raw`\b(run|rerun|execute)\b.*\btests?\b`,
    String.raw`^(?:pytest|unittest)\b`,
    String.raw`\b(?:failing tests?|tests?\s+(?:are\s+|is\s+)?(?:fail|fails|failing|failed|broken|break))\b`,
    String.raw`^(?:the\s+)?test suite$`,
  ),
  lint: anyOf(
    String.raw`^(?:please\s+)?(?:lint|reformat|style[- ]check)\b`,
    // "format the code", not "format a date as ISO text"
    String.raw`^(?:please\s+)?format(?:\s+(?:the\s+|this\s+|all\s+)?` +
      String.raw`(?:code|project|files?|everything|it|workspace|repo(?:sitory)?|sources?))?$`,
    String
      .raw`\b(?:run|fix)\s+(?:the\s+)?(?:lint|linter|linting|eslint|ruff|clippy|formatter|formatting|style checks?)\b`,
    String.raw`\blint\s+(?:errors|warnings|issues)\b`,
  ),
  build: anyOf(
    String.raw`^(?:please\s+)?(?:build|compile|type-?check)` +
      String.raw`(?:\s+(?:the\s+|this\s+)?(?:project|code|app|it|everything|workspace))?$`,
    String.raw`\b(?:does|will|did|would)\s+(?:it|the\s+(?:code|project|app))\s+(?:still\s+)?` +
      String.raw`(?:build|compile|type-?check)(?:\s+(?:now|again|cleanly|without\s+errors?))?$`,
    String.raw`\brun\s+(?:the\s+)?(?:build|compiler|type-?check(?:er)?)\b`,
  ),
  history: anyOf(
    String.raw`\bgit\s+log\b`,
    String.raw`\b(?:commit|git)\s+history\b`,
    String.raw`\b(?:recent|latest|last\s+\d+)\s+commits?\b`,
    String.raw`\bwhat\s+(?:has\s+)?changed\s+(?:recently|lately|this\s+week|today|yesterday)\b`,
    // Only of a file ("history of src/app.py", "who changed this file"): "keep a history of requests" is code.
    String.raw`\b(?:history\s+of|who\s+(?:last\s+)?(?:changed|touched))\s+` +
      String.raw`(?:[\w.-]*\/[\w./-]*|[\w./-]+\.[a-z]{1,5}\b|(?:this|that|the)\s+file\b)`,
  ),
  diff: anyOf(
    String.raw`\bgit\s+diff\b`,
    // The whole request: "show the diff of the two configs" asks for code.
    String.raw`^(?:show\s+(?:me\s+)?)?(?:the\s+|my\s+)?(?:diff|changes\s+(?:i|we)\s+made)[?.!]*$`,
    String.raw`^(?:show\s+(?:me\s+)?)?what\s+(?:i|we)\s+(?:have\s+)?changed[?.!]*$`,
    String.raw`^what\s+did\s+(?:i|we)\s+change[?.!]*$`,
  ),
  changes: anyOf(
    String.raw`\bgit\b.*\bstatus\b`,
    String.raw`^status[?.!]*$`, // as one types `git status`
    String.raw`\bwhat (?:has )?changed\b`,
    String.raw`\buncommitted\s+(?:changes|files|work|edits)\b`,
  ),
  logs: anyOf(
    String.raw`\b(?:in|from)\s+the\s+logs?\b`,
    String.raw`\blog\s+files?\b`,
    String.raw`\bwhat\s+went\s+wrong\b`,
    String.raw`\bwhy\s+did\s+(?:it|the\s+\w+)\s+(?:crash|fail)\b`,
  ),
  /** Counts as a log question only when the workspace has logs to read. */
  errorWords: /\b(errors?|logs?|crash(es|ed)?|traceback|exception|stack ?trace|warnings?)\b/i,
  overview: anyOf(
    String.raw`^(?:(?:give|show)\s+(?:me\s+)?)?(?:an?\s+)?(?:overview|architecture|summary|walk ?through)\b`,
    String
      .raw`\b(?:explain|describe|summari[sz]e|overview\s+of|walk\s+(?:me\s+)?through)\s+(?:the\s+|this\s+)?` +
      String.raw`(?:project|codebase|code ?base|repo(?:sitory)?|architecture|app(?:lication)?|workspace)\b`,
  ),
  /** With a path named in the request. */
  explainPath: /\b(explain|overview|summar|describe|walk)/i,
  plan: /^(plan|how (do|should|can) (i|we))\b/i,
  tree: anyOf(
    String
      .raw`^(?:show|print|display)?\s*(?:me\s+)?(?:the\s+)?(?:project|folder|directory|file|repo(?:sitory)?)?\s*` +
      String.raw`(?:tree|structure|layout)$`,
    String.raw`\blist\s+(?:the\s+|all\s+)?files\b`,
    String.raw`\b(?:project|folder|directory|repo(?:sitory)?|code ?base)\s+(?:tree|structure|layout)\b`,
  ),
  index: anyOf(
    // "index the workspace", not "index of the partition leader"
    String.raw`^(?:re)?index(?:\s+(?:the\s+|this\s+|all\s+)?` +
      String.raw`(?:code|project|files?|everything|it|workspace|repo(?:sitory)?))?$`,
    String.raw`\b(?:re)?build\s+the\s+(?:search\s+)?index\b`,
    String.raw`\b(?:update|refresh)\s+the\s+(?:search\s+)?index\b`,
  ),
  /** To see a name's code rather than where it is. */
  definition: anyOf(
    String
      .raw`^(?:(?:can|could) you\s+)?(?:please\s+)?(?:what(?:'s|\s+is|\s+are|\s+does|\s+do)|show|explain|describe|print|display|open|read)\b`,
  ),
  /** Every place a name is used; its groups hold the name. */
  usages: anyOf(
    String
      .raw`\b(?:usages?|uses|occurrences?|references?|mentions?|callers?|calls)\s+(?:of|to)\s+[\`'"]?([A-Za-z_$][\w$.]*)`,
    String.raw`\bwho\s+(?:calls|uses)\s+[\`'"]?([A-Za-z_$][\w$.]*)`,
    String.raw`^(?:grep|rg)\s+(.+)$`,
  ),
};

/**
 * The offline rules, in order; the first tier-0 match wins, generic fallbacks are tier 1. Requests for a
 * task (tests, lint, build, git status, logs, an overview, a plan, the tree, the index) go to that tool; a
 * quoted string, or the usages of a name, to grep; anything else is a search, and goes to `esearch`, whose
 * ranking finds a name's definition and a described behaviour (measured on labelled questions:
 * `bench/route_quality.ts`, docs/agent.md). grep for a definition regex and keyword grep stay as fallbacks.
 *
 * @example
 * ```ts
 * offlineCandidates("where is parseConfig")[0]; // {tool: "esearch", args: ["parseConfig"], ...}
 * ```
 */
export function offlineCandidates(
  query: string,
  state: { hasLogs?: boolean; hasLlm?: boolean } = {},
): RouteCandidate[] {
  const q = query.trim();
  const out: RouteCandidate[] = [];
  const words = keywords(q);
  // A file ("src/server.ts") or a folder ("src/", "lib/auth", "the tests folder") the request names.
  const path = /(?:^|\s)((?:[\w.-]+\/)*[\w-]+\.(?:ts|tsx|js|jsx|mjs|py|go|rs|java|rb|md|json|toml|ya?ml))\b/
    .exec(q)?.[1] ??
    /(?:^|\s)((?:[\w-][\w.-]*\/)+[\w.-]*)/.exec(q)?.[1] ??
    /\b(src|lib|app|cli|agent|tests?)\s+(?:folder|directory|dir|package|module)\b/i.exec(q)?.[1];
  const quoted = /["'`]([^"'`]{2,80})["'`]/.exec(q)?.[1];
  const subject = searchSubject(q);
  const symbol = subject.replace(LOOKUP_TAIL, "");
  const isSymbol = !/\s/.test(symbol) && /^[A-Za-z_$][\w$.]*$/.test(symbol) &&
    (looksLikeIdentifier(symbol) || subject.split(/\s+/).length <= 2);
  const usages = ASKS_FOR.usages.exec(q);
  const bare = q.replace(/[?.!\s]+$/, "");

  if (ASKS_FOR.tests.test(q)) {
    out.push({ tool: "run-tests", args: [], why: "tests → run-tests", tier: 0 });
  } else if (ASKS_FOR.lint.test(bare)) {
    out.push({ tool: "lint", args: [], why: "lint/format → lint", tier: 0 });
  } else if (ASKS_FOR.build.test(bare)) {
    out.push({ tool: "build", args: [], why: "build → build", tier: 0 });
  } else if (ASKS_FOR.history.test(q)) {
    out.push({ tool: "glog", args: path ? [path] : [], why: "history → glog", tier: 0 });
  } else if (ASKS_FOR.diff.test(q)) {
    out.push({ tool: "gdiff", args: path ? [path] : [], why: "diff → gdiff", tier: 0 });
  } else if (ASKS_FOR.changes.test(q)) {
    out.push({ tool: "gstatus", args: [], why: "changes → gstatus", tier: 0 });
  } else if (ASKS_FOR.logs.test(q) || (state.hasLogs && ASKS_FOR.errorWords.test(q))) {
    // Log questions; without log files, error words describe code ("log the stack trace") and are searched.
    out.push({ tool: "ctx", args: [], why: "errors/logs → ctx", tier: 0 });
  } else if ((path && ASKS_FOR.explainPath.test(q)) || ASKS_FOR.overview.test(q)) {
    out.push({ tool: "codectx", args: path ? [path] : [], why: "overview → codectx", tier: 0 });
  } else if (ASKS_FOR.plan.test(q)) {
    const task = q.replace(/^plan\s+/i, "");
    // A plan needs a model; without one, the code the plan would start from.
    out.push(
      state.hasLlm === false
        ? {
          tool: "esearch",
          args: [searchSubject(task)],
          why: "how-to, no LLM to plan → the code to start from",
          tier: 0,
        }
        : { tool: "plan", args: [task], why: "how-to → plan", tier: 0 },
    );
  } else if (ASKS_FOR.tree.test(bare)) {
    out.push({ tool: "tree", args: [], why: "structure → tree", tier: 0 });
  } else if (ASKS_FOR.index.test(bare)) {
    out.push({ tool: "index", args: [], why: "index → index", tier: 0 });
  } else if (quoted || usages || /^(?:TODO|FIXME|XXX|HACK)s?$/.test(subject)) {
    // A string to find as written, or every place a name is used: grep shows them all.
    const pattern = quoted ??
      (usages ? (usages[1] ?? usages[2] ?? usages[3]).trim() : subject.replace(/s$/, ""));
    out.push({ tool: "grep", args: ["--fixed", pattern], why: `search → grep "${pattern}"`, tier: 0 });
    out.push({ tool: "esearch", args: [pattern], why: `ranked search for ${pattern}`, tier: 0 });
  } else if (isSymbol) {
    // A name: esearch ranks the chunk that defines it first (its identifier lookups); grep for a definition
    // regex when the index finds nothing.
    const sym = symbol.split(".").pop()!;
    // "what does X do", "show me X", "explain X": the definition itself, after the lookup found it.
    const wantsDefinition = ASKS_FOR.definition.test(q) || /\s(?:do|does|work|works|mean|means)$/i.test(bare);
    out.push({
      tool: "esearch",
      args: [symbol],
      why: `look up ${symbol}`,
      tier: 0,
      ...(wantsDefinition ? { then: showDefinition(symbol) } : {}),
    });
    out.push({
      tool: "grep",
      args: [
        `(def|class|function|fn|func|interface|type|struct|enum|const|let|var)\\s+${escapeRegExp(sym)}\\b`,
      ],
      why: `grep for the definition of ${sym}`,
      tier: 0,
    });
  } else if (words.length) {
    // A described behaviour ("where do we retry failed requests"): ranked search on what it is about.
    out.push({ tool: "esearch", args: [subject], why: "search → esearch", tier: 0 });
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
      // Without the model's own query, the request less its asking words (the ranking weighs the rest;
      // dropping stop words as well scored lower on the labelled questions, docs/agent.md).
      return [s("query") ?? searchSubject(query), ...(n("k") ? ["--k", n("k")!] : [])];
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
    case "glog":
      return [...(s("path") ? [s("path")!] : []), ...(n("n") ? ["--n", n("n")!] : [])];
    case "gdiff":
      return [...(s("path") ? [s("path")!] : []), ...(a.staged === true ? ["--staged"] : [])];
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

const TERMINAL = new Set(["plan", "run-tests", "lint", "build", "edit", "index", "gstatus", "glog", "gdiff"]);

/** Runs the routing loop for one request. */
export async function routeRequest(
  query: string,
  host: RouteHost,
  options: {
    maxSteps?: number;
    state?: { hasLogs?: boolean };
    /** The bandit that orders the generic candidates; default the workspace's, `null` for the rules alone. */
    bandit?: Bandit | null;
  } = {},
): Promise<{ steps: RouteStep[]; best?: RouteStep }> {
  const maxSteps = Math.max(1, options.maxSteps ?? 4);
  let bandit = options.bandit ?? undefined;
  if (options.bandit === undefined) {
    try {
      bandit = await loadToolBandit(host.workspace);
    } catch { /* learning unavailable: rules only */ }
  }
  const offline = orderCandidates(
    offlineCandidates(query, { ...options.state, hasLlm: host.llm !== undefined }),
    bandit,
  );
  const steps: RouteStep[] = [];
  const seen = new Set<string>();
  let llm = host.llm;
  let offlineIndex = 0;
  /** A step the previous one asked for (its `then`), taken before the remaining rules. */
  let queued: RouteCandidate | undefined;
  for (let step = 1; step <= maxSteps; step++) {
    if (host.signal?.aborted) break;
    let choice: { tool: string; args: string[]; why: string; mode: "llm" | "offline" } | undefined;
    let rule: RouteCandidate | undefined;
    if (queued) {
      rule = queued;
      queued = undefined;
      choice = { tool: rule.tool, args: rule.args, why: rule.why, mode: "offline" };
    } else if (llm) {
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
      rule = offline[offlineIndex++];
      if (!rule) break;
      choice = { tool: rule.tool, args: rule.args, why: rule.why, mode: "offline" };
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
    if (rule?.then && scored.score >= 1) {
      queued = rule.then(result.data);
      if (queued) continue;
    }
    if (scored.score >= 1 || TERMINAL.has(choice.tool)) break;
  }
  const best = [...steps].sort((a, b) => b.score - a.score)[0];
  return { steps, best };
}

function key(c: { tool: string; args: string[] }): string {
  return `${c.tool}\0${c.args.join("\0")}`;
}
