/**
 * gitignore patterns, as git reads them (gitignore(5)), for the file walk and the `--glob`/`--exclude` flags.
 * A pure module with no dependencies: the walk used the `ignore` npm package, whose loading alone (Node
 * compatibility, CommonJS) cost a `grep` process about 50 ms.
 *
 * Patterns, one per line:
 *
 * - a blank line matches nothing; `#` starts a comment (`\#` is a literal `#`); trailing spaces are dropped
 *   unless escaped (`foo\ `); a line ending in an odd number of backslashes is invalid and ignored;
 * - `!` negates: a path matched by it is re-included (`\!` is a literal `!`); the last matching line wins;
 * - a trailing `/` matches directories only (`build/`);
 * - a `/` at the start or in the middle anchors the pattern to the folder of its file (`/todo.txt`,
 *   `doc/*.md`); without one it matches at any depth (`*.log`, `tmp`);
 * - `*` matches anything but `/`, `?` one character but `/`, `[a-z]` / `[!a-z]` / `[^a-z]` / `[[:digit:]]`
 *   one character of a set (never `/`; an unterminated `[` makes the line match nothing), `\x` the
 *   character x;
 * - `**` as a whole segment: `**&#47;foo` matches `foo` in every folder, `a/**` everything inside `a`,
 *   `a/**&#47;b` zero or more folders between; anywhere else `**` is `*`;
 * - a path inside an excluded folder is excluded whatever later lines say (git does not look inside an
 *   excluded folder, so a file in it cannot be re-included).
 *
 * Paths are relative with `/` separators; a directory is written with a trailing `/` (`src/`). Matching is
 * case-sensitive, as git's is (unless `ignoreCase`).
 *
 * @example
 * ```ts
 * const ig = createGitignore(["*.log", "!keep.log", "build/"]);
 * ig.ignores("logs/debug.log"); // true
 * ig.ignores("keep.log"); // false
 * ig.ignores("build/out/app.js"); // true: inside an excluded folder
 * ig.test("keep.log"); // { ignored: false, unignored: true }
 * ```
 *
 * @module
 */

/** What the rules say about one path. */
export interface IgnoreVerdict {
  /** The last matching rule (or one of a parent folder) excludes the path. */
  ignored: boolean;
  /** The last matching rule is a negation (`!pattern`) that re-includes the path. */
  unignored: boolean;
}

/** Options for {@link createGitignore}. */
export interface GitignoreOptions {
  /** Match letters regardless of case (git's `core.ignoreCase`); default false. */
  ignoreCase?: boolean;
}

/** A set of gitignore rules; see the module documentation for the syntax. */
export interface Gitignore {
  /** Adds rules: the text of a gitignore file, or a list of lines. Later rules take precedence. */
  add(patterns: string | readonly string[]): Gitignore;
  /** What the rules say about `path` (relative, `/`-separated, trailing `/` for a directory). */
  test(path: string): IgnoreVerdict;
  /** True when `path` is excluded (itself or through a parent folder). */
  ignores(path: string): boolean;
  /** Number of rules (blank lines and comments are not rules). */
  readonly size: number;
}

interface Rule {
  negate: boolean;
  re: RegExp;
}

const NEITHER: IgnoreVerdict = Object.freeze({ ignored: false, unignored: false });
const IGNORED: IgnoreVerdict = Object.freeze({ ignored: true, unignored: false });
const UNIGNORED: IgnoreVerdict = Object.freeze({ ignored: false, unignored: true });

/** Creates a rule set, optionally with initial patterns. */
export function createGitignore(
  patterns?: string | readonly string[],
  options: GitignoreOptions = {},
): Gitignore {
  const rules: Rule[] = [];
  const flags = options.ignoreCase ? "i" : "";
  // Verdicts of folders, so the files of one folder do not re-test its parents. Cleared by `add`.
  let folderCache = new Map<string, IgnoreVerdict>();

  const own = (path: string): IgnoreVerdict => {
    for (let i = rules.length - 1; i >= 0; i--) {
      if (rules[i].re.test(path)) return rules[i].negate ? UNIGNORED : IGNORED;
    }
    return NEITHER;
  };
  const verdict = (path: string): IgnoreVerdict => {
    if (rules.length === 0) return NEITHER;
    const cut = path.lastIndexOf("/", path.length - 2);
    if (cut >= 0) {
      const parent = path.slice(0, cut + 1);
      let p = folderCache.get(parent);
      if (p === undefined) {
        p = verdict(parent);
        folderCache.set(parent, p);
      }
      if (p.ignored) return p;
    }
    return own(path);
  };

  const set: Gitignore = {
    add(more) {
      const lines = typeof more === "string" ? more.replace(/^\uFEFF/, "").split(/\r?\n/) : more;
      for (const line of lines) {
        const rule = parseLine(line, flags);
        if (rule) rules.push(rule);
      }
      folderCache = new Map();
      return set;
    },
    test: verdict,
    ignores: (path) => verdict(path).ignored,
    get size() {
      return rules.length;
    },
  };
  if (patterns !== undefined) set.add(patterns);
  return set;
}

/** Parses one line into a rule; `null` for blank lines, comments and invalid lines. */
function parseLine(raw: string, flags: string): Rule | null {
  let line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
  if (line === "" || line[0] === "#") return null;
  let negate = false;
  if (line[0] === "!") {
    negate = true;
    line = line.slice(1);
  }
  line = trimTrailingSpaces(line);
  if (line === "" || endsWithOddBackslashes(line)) return null;
  const source = compilePattern(line);
  return { negate, re: new RegExp(source, flags) };
}

/** Drops unescaped trailing spaces; an escaped one (`\ `) stays as a plain space. */
function trimTrailingSpaces(line: string): string {
  let end = line.length;
  while (end > 0 && line[end - 1] === " ") end--;
  if (end === line.length) return line;
  let slashes = 0;
  while (end - slashes - 1 >= 0 && line[end - slashes - 1] === "\\") slashes++;
  return slashes % 2 === 1 ? line.slice(0, end - 1) + " " : line.slice(0, end);
}

function endsWithOddBackslashes(line: string): boolean {
  let n = 0;
  while (n < line.length && line[line.length - 1 - n] === "\\") n++;
  return n % 2 === 1;
}

/** A regex source that never matches. */
const NEVER = "(?!)";
const SEGMENT_CHAR = "[^/]";

/**
 * Translates one pattern (negation and trailing spaces already removed) into a regular expression source
 * tested against a whole relative path (a directory with its trailing `/`).
 */
function compilePattern(pattern: string): string {
  let body = pattern;
  let dirOnly = false;
  if (body.endsWith("/")) {
    dirOnly = true;
    body = body.slice(0, -1);
    // `foo\/`: git drops the final slash first, which leaves a dangling escape.
    if (endsWithOddBackslashes(body)) return NEVER;
  }
  // A separator at the start or in the middle anchors the pattern to the folder of its file.
  const anchored = body.includes("/");
  if (body.startsWith("/")) body = body.slice(1);
  if (body === "" || /^\*{2,}$/.test(body)) {
    // `/`, `**`, `/**`: everything (as a directory only with a trailing slash).
    return dirOnly ? "/$" : "";
  }
  const segments = splitSegments(body);
  if (segments === null) return NEVER;
  const isGlobstar = (s: Segment) => s.globstar;
  if (segments.every(isGlobstar)) return dirOnly ? "/$" : ""; // `**/**`: everything

  let out = anchored ? "^" : "(?:^|/)";
  let i = 0;
  // Leading `**/`: in every folder (any number of them collapse into one).
  if (segments[0].globstar) {
    out = "(?:^|/)";
    while (i < segments.length && isGlobstar(segments[i])) i++;
  }
  let first = true;
  for (; i < segments.length; i++) {
    const seg = segments[i];
    const last = i === segments.length - 1;
    if (seg.globstar) {
      while (i + 1 < segments.length && isGlobstar(segments[i + 1])) i++; // `a/**/**/b` is `a/**/b`
      if (i === segments.length - 1) {
        // Trailing `/**`: everything inside (not the folder itself); with `/**/` only folders inside.
        return dirOnly ? out + "(?:/[^/]+)+/$" : out + "/.";
      }
      out += "(?:/[^/]+)*"; // zero or more folders, then the next segment's `/`
      continue;
    }
    if (!first) out += "/";
    first = false;
    // A trailing `/*` must name something inside the folder, not the folder itself (`foo/` against `foo/*`).
    if (last && !dirOnly && seg.source === `${SEGMENT_CHAR}*` && i > 0) out += `${SEGMENT_CHAR}+`;
    else out += seg.source;
  }
  return out + (dirOnly ? "/$" : "/?$");
}

interface Segment {
  /** The segment is exactly `**` (or more stars). */
  globstar: boolean;
  /** Regex source of the segment. */
  source: string;
}

/** Splits a pattern at `/` and translates each segment; `null` when a bracket expression never closes. */
function splitSegments(body: string): Segment[] | null {
  const segments: Segment[] = [];
  let source = "";
  let raw = "";
  let i = 0;
  const finish = () => {
    segments.push({ globstar: /^\*{2,}$/.test(raw), source: /^\*{2,}$/.test(raw) ? "" : source });
    source = "";
    raw = "";
  };
  while (i < body.length) {
    const c = body[i];
    if (c === "/") {
      finish();
      i++;
      continue;
    }
    raw += c;
    if (c === "\\") {
      const next = body[i + 1];
      raw += next;
      source += next === "/" ? "/" : escapeChar(next);
      i += 2;
    } else if (c === "*") {
      while (body[i + 1] === "*") raw += body[++i];
      source += `${SEGMENT_CHAR}*`;
      i++;
    } else if (c === "?") {
      source += SEGMENT_CHAR;
      i++;
    } else if (c === "[") {
      const cls = parseBracket(body, i);
      if (cls === null) return null;
      source += cls.source;
      raw += body.slice(i + 1, cls.end + 1);
      i = cls.end + 1;
    } else {
      source += escapeChar(c);
      i++;
    }
  }
  finish();
  return segments;
}

function escapeChar(c: string): string {
  return /[.*+?^${}()|[\]\\/-]/.test(c) ? "\\" + c : c;
}

/** POSIX classes inside brackets, ASCII only as in git. */
const POSIX: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  blank: " \\t",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: " \\t\\n\\r\\v\\f",
  upper: "A-Z",
  xdigit: "0-9A-Fa-f",
};

/**
 * Parses the bracket expression starting at `body[start] === "["`: returns its regex source and the index of
 * its closing `]`, or `null` when it never closes (git then matches nothing with the whole pattern). A `]`
 * right after `[` (or `[!`) is a member; `\` escapes a member; `a-z` is a range.
 */
function parseBracket(body: string, start: number): { source: string; end: number } | null {
  let i = start + 1;
  let negated = false;
  if (body[i] === "!" || body[i] === "^") {
    negated = true;
    i++;
  }
  let members = "";
  let firstMember = true;
  while (true) {
    if (i >= body.length) return null;
    let c = body[i];
    if (c === "]" && !firstMember) break;
    firstMember = false;
    if (c === "[" && body[i + 1] === ":") {
      const close = body.indexOf(":]", i + 2);
      const name = close < 0 ? "" : body.slice(i + 2, close);
      if (close >= 0 && /^[a-z]+$/.test(name)) {
        if (!(name in POSIX)) return null; // an unknown class: git gives up on the pattern
        members += POSIX[name];
        i = close + 2;
        continue;
      }
    }
    if (c === "\\") {
      i++;
      if (i >= body.length) return null;
      c = body[i];
    }
    if (body[i + 1] === "-" && i + 2 < body.length && body[i + 2] !== "]") {
      let to = body[i + 2];
      let skip = 3;
      if (to === "\\") {
        to = body[i + 3];
        skip = 4;
        if (to === undefined) return null;
      }
      // An inverted range matches only its first character in git.
      members += c <= to ? `${memberChar(c)}-${memberChar(to)}` : memberChar(c);
      i += skip;
      continue;
    }
    members += memberChar(c);
    i++;
  }
  // A bracket expression never matches `/`.
  const source = negated ? `[^/${members}]` : `(?!/)[${members}]`;
  return { source, end: i };
}

function memberChar(c: string): string {
  return /[\\\]^\-[]/.test(c) ? "\\" + c : c;
}
