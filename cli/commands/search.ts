/**
 * Command specs for the search subsystem: grep, extract, diff, write, index, esearch. Keep this file light:
 * implementations load inside `run` from `cli/commands/grep_impl.ts` (grep alone, the most frequent) and
 * `cli/commands/search_impl.ts` (the rest).
 *
 * @module
 */

import type { CommandSpec } from "../command.ts";
import { lazyImport } from "../lazy.ts";

const grepImpl = () =>
  lazyImport<typeof import("./grep_impl.ts")>(new URL("./grep_impl.ts", import.meta.url));
const impl = () =>
  lazyImport<typeof import("./search_impl.ts")>(new URL("./search_impl.ts", import.meta.url));

/** The search commands, registered in `cli/registry.ts`. */
export const searchCommands: CommandSpec[] = [
  {
    name: "grep",
    group: "search",
    summary: "Search the workspace's files for a regex or literal (parallel, honours .gitignore)",
    usage:
      "grep PATTERN [--fixed] [--ignore-case] [--glob G]... [--exclude G]... [--context N] [--file F] [--max N] [--json]",
    examples: [
      `grep "def .*test"`,
      `grep -f "TODO(" --glob "*.ts" --context 2`,
      `grep retry --file src/client.ts`,
    ],
    details: [
      "  -f, --fixed           search for PATTERN literally (no regex)",
      "  -i, --ignore-case     case-insensitive",
      "  -g, --glob G          only files matching G (gitignore syntax; repeatable)",
      "  -x, --exclude G       skip files/folders matching G (repeatable)",
      "  -c, --context N       show N lines before and after each match",
      "  -F, --file F          search one file",
      "  -m, --max N           stop after N matches (default 1000)",
      "      --max-file-bytes N  skip files larger than N bytes (default 1 MiB)",
      "      --json            one {path, line, text, before?, after?} object per line",
      "Skips .git, node_modules, .venv, dist, build, __pycache__, .dspy* folders, files in .gitignore/.dspyignore,",
      "binary files and files over the size limit.",
    ].join("\n"),
    run: async (args, ctx) => (await grepImpl()).runGrep(args, ctx),
  },
  {
    name: "extract",
    group: "search",
    summary: "Print a symbol or the lines around a regex match, and remember it as the last extract",
    usage: "extract --file F (--symbol NAME | --regex RX [--before N] [--after N]) [--nth K] [--json]",
    examples: [
      "extract --file src/app.py --symbol main",
      "extract --file src/server.ts --symbol Server.listen",
      `extract --file README.md --regex "Install" --before 1 --after 8`,
    ],
    details: [
      "Symbols work for TypeScript, JavaScript, Python, Go and Rust (functions, classes, methods as Class.method).",
      "  --nth K   take the K-th matching symbol or regex match (default 1)",
      "The segment becomes the last extract used by 'diff' and 'write'.",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runExtract(args, ctx),
  },
  {
    name: "diff",
    group: "search",
    summary: "Unified diff of a file against the last extract",
    usage: "diff FILE [--context N]",
    examples: ["diff src/app.py"],
    run: async (args, ctx) => (await impl()).runDiff(args, ctx),
  },
  {
    name: "write",
    group: "search",
    summary: "Write the last extract to a file inside the workspace (atomic)",
    usage: "write PATH",
    examples: ["write snippets/main.py"],
    run: async (args, ctx) => (await impl()).runWrite(args, ctx),
  },
  {
    name: "index",
    group: "search",
    summary: "Build or refresh the lexical (BM25) code index in .dspy_index/ (incremental)",
    usage: "index [--glob G]... [--exclude G]... [--chunk-lines N] [--max-file-bytes N] [--full] [--json]",
    examples: ["index", "index --glob '*.py' --exclude tests/", "index --full"],
    details: [
      "Code files are chunked by symbol (plus the module-level code between symbols); other text files by",
      "line windows (--chunk-lines, default 60). Unchanged files (same size and mtime) are not re-read;",
      "--full re-reads everything.",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runIndex(args, ctx),
  },
  {
    name: "esearch",
    group: "search",
    summary: "Ranked code search over the index (BM25F; --hybrid fuses in vector search)",
    usage: "esearch QUERY... [--k 5] [--context 4] [--hybrid] [--refresh] [--json]",
    examples: [
      `esearch "vector search"`,
      `esearch retry backoff --k 10 --json`,
      `esearch "parse config" --hybrid`,
    ],
    details: [
      "  --k N        hits to show (default 5)",
      "  --context N  snippet lines either side of the best line in each chunk (default 4)",
      "  --hybrid     reciprocal rank fusion of BM25 and the embedding index (see emb-index)",
      "  --refresh    refresh the index first (re-reads changed files only; always on in the session)",
      "Builds the index first when there is none. Hits are logged to .dspy_agentic/retrieval.jsonl.",
    ].join("\n"),
    run: async (args, ctx) => (await impl()).runEsearch(args, ctx),
  },
];
