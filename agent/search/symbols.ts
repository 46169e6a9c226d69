/**
 * Light-weight symbol extraction for TypeScript, JavaScript, Python, Go and Rust: functions, classes,
 * methods (and structs, enums, traits, impls, interfaces). No parser dependency: strings and comments are
 * masked out first, then declarations are found line by line and their ends found by brace matching (or by
 * indentation for Python). Good enough for extracting and chunking real code; not a compiler.
 *
 * @module
 */

/** Languages with symbol support. */
export type Language = "typescript" | "javascript" | "python" | "go" | "rust";

/** Kinds of symbols. */
export type SymbolKind =
  | "function"
  | "class"
  | "method"
  | "interface"
  | "type"
  | "enum"
  | "struct"
  | "trait"
  | "impl"
  | "module";

/** A symbol with its 1-based inclusive line range. */
export interface CodeSymbol {
  name: string;
  kind: SymbolKind;
  /** First line (decorators and attributes included). */
  startLine: number;
  /** Last line. */
  endLine: number;
  /** Enclosing class/impl/type name for methods. */
  parent?: string;
  /** Nesting: 0 for top-level declarations. */
  depth: number;
}

const EXT: Record<string, Language> = {
  ts: "typescript",
  tsx: "typescript",
  mts: "typescript",
  cts: "typescript",
  js: "javascript",
  jsx: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  py: "python",
  pyi: "python",
  go: "go",
  rs: "rust",
};

/** The language of a path by extension, if supported. */
export function languageOf(path: string): Language | undefined {
  const m = /\.([A-Za-z0-9]+)$/.exec(path);
  return m ? EXT[m[1].toLowerCase()] : undefined;
}

/**
 * Replaces string, comment (and JS regex literal) contents with spaces, keeping newlines and every other
 * character in place, so brace matching and declaration regexes see only code.
 */
export function maskCode(text: string, lang: Language): string {
  const n = text.length;
  const ranges: number[] = []; // [from, to) pairs to blank, increasing and disjoint
  const blank = (from: number, to: number) => {
    const t = Math.min(to, n);
    if (t > from) ranges.push(from, t);
  };
  const jsLike = lang === "typescript" || lang === "javascript";
  let i = 0;
  let lastSig = 0; // char code of the last significant code character (regex-literal heuristic); 0 = none
  while (i < n) {
    const c = text.charCodeAt(i);
    if (lang === "python") {
      if (c === 35 /* # */) {
        const end = text.indexOf("\n", i);
        blank(i, end < 0 ? n : end);
        i = end < 0 ? n : end;
        continue;
      }
      if (c === 34 || c === 39) {
        const ch = text[i];
        const triple = text.startsWith(ch + ch + ch, i);
        const quote = triple ? ch + ch + ch : ch;
        let j = i + quote.length;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === 92 /* \ */) {
            j += 2;
            continue;
          }
          if (d === c && (!triple || text.startsWith(quote, j))) break;
          if (!triple && d === 10) break;
          j++;
        }
        blank(i + quote.length, j);
        i = Math.min(n, j + quote.length);
        continue;
      }
      i++;
      continue;
    }
    // C-like languages.
    if (c === 47 /* / */) {
      const next = text.charCodeAt(i + 1);
      if (next === 47) {
        const end = text.indexOf("\n", i);
        blank(i, end < 0 ? n : end);
        i = end < 0 ? n : end;
        continue;
      }
      if (next === 42 /* * */) {
        const end = text.indexOf("*/", i + 2);
        const stop = end < 0 ? n : end + 2;
        blank(i, stop);
        i = stop;
        continue;
      }
      if (jsLike && (lastSig === 0 || REGEX_BEFORE.has(lastSig))) {
        // A regex literal: skip to the closing slash (outside a character class), on this line only.
        let j = i + 1;
        let inClass = false;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === 10) break;
          if (d === 92) {
            j += 2;
            continue;
          }
          if (d === 91) inClass = true;
          else if (d === 93) inClass = false;
          else if (d === 47 && !inClass) break;
          j++;
        }
        if (j < n && text.charCodeAt(j) === 47) {
          blank(i + 1, j);
          i = j + 1;
          lastSig = 47;
          continue;
        }
      }
    }
    if (lang === "rust" && c === 114 /* r */) {
      const next = text.charCodeAt(i + 1);
      if ((next === 34 || next === 35) && !isWordCode(text.charCodeAt(i - 1))) {
        // raw string r"..." or r#"..."#
        let j = i + 1;
        let hashes = 0;
        while (text.charCodeAt(j) === 35) {
          hashes++;
          j++;
        }
        if (text.charCodeAt(j) === 34) {
          const closing = '"' + "#".repeat(hashes);
          const end = text.indexOf(closing, j + 1);
          blank(j + 1, end < 0 ? n : end);
          i = end < 0 ? n : end + closing.length;
          lastSig = 34;
          continue;
        }
      }
    }
    if (c === 39 && lang === "rust") {
      // char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): a literal closes within a few characters.
      const m = RUST_CHAR.exec(text.slice(i, i + 12));
      if (m) {
        blank(i + 1, i + m[0].length - 1);
        i += m[0].length;
        lastSig = 39;
        continue;
      }
      i++;
      continue;
    }
    if (c === 34 || c === 39 || c === 96 /* ` */) {
      let j = i + 1;
      const multiline = c === 96;
      const rawGo = lang === "go" && c === 96;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 92 && !rawGo) {
          j += 2;
          continue;
        }
        if (d === c) break;
        if (!multiline && d === 10) break;
        j++;
      }
      blank(i + 1, j);
      i = j + 1;
      lastSig = c;
      continue;
    }
    if (c > 32) lastSig = c;
    i++;
  }
  if (ranges.length === 0) return text;
  let out = "";
  let pos = 0;
  for (let r = 0; r < ranges.length; r += 2) {
    const a = ranges[r];
    const b = ranges[r + 1];
    out += text.slice(pos, a) + text.slice(a, b).replace(/[^\n]/g, " ");
    pos = b;
  }
  return out + text.slice(pos);
}

/** Characters after which a `/` starts a regex literal rather than a division. */
const REGEX_BEFORE = new Set([..."(,=:[!&|?{};"].map((ch) => ch.charCodeAt(0)));
const RUST_CHAR = /^'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'/;

function isWordCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

interface Decl {
  name: string;
  kind: SymbolKind;
  parent?: string;
}

const JS_KEYWORDS = new Set([
  "if",
  "for",
  "while",
  "switch",
  "catch",
  "return",
  "function",
  "new",
  "await",
  "typeof",
  "do",
  "else",
  "try",
  "with",
  "super",
  "this",
  "throw",
  "yield",
  "delete",
  "void",
  "import",
  "export",
]);

const JS_DECL_HINT = /\b(?:function|class|interface|enum|type|const|let|var|exports)\b/;
const RUST_DECL_HINT = /\b(?:fn|struct|enum|trait|impl|mod)\b/;

function jsDecl(line: string, inClassBody: boolean): Decl | null {
  if (!inClassBody && !JS_DECL_HINT.test(line)) return null;
  let m = /^\s*(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/
    .exec(
      line,
    );
  if (m) return { name: m[1], kind: "function" };
  m = /^\s*(?:export\s+)?(?:default\s+)?(?:declare\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)/.exec(line);
  if (m) return { name: m[1], kind: "class" };
  // module.exports = class Name / exports.name = function / const Name = class
  m =
    /^\s*(?:(?:module\.)?exports(?:\.([A-Za-z_$][\w$]*))?|(?:const|let|var)\s+([A-Za-z_$][\w$]*))\s*=\s*(?:async\s+)?(class|function)\b\s*\*?\s*([A-Za-z_$][\w$]*)?/
      .exec(line);
  if (m) {
    const name = m[4] ?? m[1] ?? m[2] ?? "default";
    return { name, kind: m[3] === "class" ? "class" : "function" };
  }
  m = /^\s*(?:module\.)?exports\.([A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?(?:\([^)]*\)|[A-Za-z_$][\w$]*)\s*=>/
    .exec(line);
  if (m) return { name: m[1], kind: "function" };
  m = /^\s*(?:export\s+)?(?:declare\s+)?interface\s+([A-Za-z_$][\w$]*)/.exec(line);
  if (m) return { name: m[1], kind: "interface" };
  m = /^\s*(?:export\s+)?(?:declare\s+)?(?:const\s+)?enum\s+([A-Za-z_$][\w$]*)/.exec(line);
  if (m) return { name: m[1], kind: "enum" };
  m = /^\s*(?:export\s+)?(?:declare\s+)?type\s+([A-Za-z_$][\w$]*)\s*(?:<[^=]*>)?\s*=/.exec(line);
  if (m) return { name: m[1], kind: "type" };
  m =
    /^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:<[^>]*>\s*)?(?:function\b|\([^)]*\)?\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>|\()/
      .exec(line);
  if (m && /=>|function/.test(line)) return { name: m[1], kind: "function" };
  if (inClassBody) {
    m =
      /^\s*(?:(?:public|private|protected|static|async|readonly|override|abstract|get|set|declare)\s+)*\*?\s*(#?[A-Za-z_$][\w$]*)\s*(?:<[^>]*>)?\s*\(/
        .exec(line);
    if (m && !JS_KEYWORDS.has(m[1])) return { name: m[1], kind: "method" };
    m = /^\s*(?:(?:public|private|protected|static|readonly)\s+)*(#?[A-Za-z_$][\w$]*)\s*=\s*(?:async\s+)?\(/
      .exec(
        line,
      );
    if (m && /=>/.test(line)) return { name: m[1], kind: "method" };
  }
  return null;
}

function goDecl(line: string): Decl | null {
  if (!line.startsWith("func") && !line.startsWith("type")) return null;
  let m = /^func\s+\(\s*(?:\w+\s+)?\*?\s*([A-Za-z_]\w*)(?:\[[^\]]*\])?\s*\)\s*([A-Za-z_]\w*)/.exec(line);
  if (m) return { name: m[2], kind: "method", parent: m[1] };
  m = /^func\s+([A-Za-z_]\w*)/.exec(line);
  if (m) return { name: m[1], kind: "function" };
  m = /^type\s+([A-Za-z_]\w*)(?:\[[^\]]*\])?\s+(struct|interface)\b/.exec(line);
  if (m) return { name: m[1], kind: m[2] === "struct" ? "struct" : "interface" };
  return null;
}

const RUST_VIS = String.raw`(?:pub(?:\([^)]*\))?\s+)?`;
const RUST_FN = new RegExp(
  String
    .raw`^\s*${RUST_VIS}(?:default\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"]*"\s+)?fn\s+([A-Za-z_]\w*)`,
);
const RUST_STRUCT = new RegExp(String.raw`^\s*${RUST_VIS}struct\s+([A-Za-z_]\w*)`);
const RUST_ENUM = new RegExp(String.raw`^\s*${RUST_VIS}enum\s+([A-Za-z_]\w*)`);
const RUST_TRAIT = new RegExp(String.raw`^\s*${RUST_VIS}(?:unsafe\s+)?trait\s+([A-Za-z_]\w*)`);
const RUST_IMPL = /^\s*(?:unsafe\s+)?impl\b(?:\s*<[^{]*?>)?\s+(?:[\w:<>, ]+?\s+for\s+)?&?([A-Za-z_][\w:]*)/;
const RUST_MOD = new RegExp(String.raw`^\s*${RUST_VIS}mod\s+([A-Za-z_]\w*)\s*\{`);

function rustDecl(line: string): Decl | null {
  if (!RUST_DECL_HINT.test(line)) return null;
  let m = RUST_FN.exec(line);
  if (m) return { name: m[1], kind: "function" };
  m = RUST_STRUCT.exec(line);
  if (m) return { name: m[1], kind: "struct" };
  m = RUST_ENUM.exec(line);
  if (m) return { name: m[1], kind: "enum" };
  m = RUST_TRAIT.exec(line);
  if (m) return { name: m[1], kind: "trait" };
  m = RUST_IMPL.exec(line);
  if (m) return { name: m[1].split("::").pop()!, kind: "impl" };
  m = RUST_MOD.exec(line);
  if (m) return { name: m[1], kind: "module" };
  return null;
}

/** Finds the line where the body opened on or after `startLine` closes (0-based lines in, 0-based out). */
function braceEnd(lines: string[], startLine: number, allowBodyless: boolean): number {
  let paren = 0;
  let depth = 0;
  let opened = false;
  for (let l = startLine; l < lines.length; l++) {
    const line = lines[l];
    if (!opened && l > startLine && line.trim() === "" && allowBodyless) return l - 1;
    for (let c = 0; c < line.length; c++) {
      const ch = line[c];
      if (ch === "(" || ch === "[") paren++;
      else if (ch === ")" || ch === "]") paren = Math.max(0, paren - 1);
      else if (ch === "{") {
        if (!opened && paren > 0) {
          depth++;
          opened = false;
          continue;
        }
        depth++;
        opened = true;
      } else if (ch === "}") {
        depth--;
        if (opened && depth === 0) return l;
        if (depth < 0) return l; // unbalanced: stop here
      } else if (ch === ";" && !opened && paren === 0 && depth === 0) {
        return l;
      }
    }
    if (!opened && l - startLine > 40) return startLine; // no body found nearby: a one-line declaration
  }
  return opened ? lines.length - 1 : startLine;
}

/** Extends a declaration upwards over decorators (`@x`), attributes (`#[x]`) and doc comments. */
function leadingStart(lines: string[], maskedLines: string[], line: number, lang: Language): number {
  let s = line;
  while (s > 0) {
    const prev = lines[s - 1].trim();
    const prevMasked = maskedLines[s - 1].trim();
    if (lang === "python" ? prev.startsWith("@") : (prev.startsWith("@") || prev.startsWith("#["))) {
      s--;
      continue;
    }
    // Doc comments (masked to blanks, but present in the raw text).
    if (lang !== "python" && prevMasked === "" && /^(\/\/\/?|\/\*\*?|\*)/.test(prev)) {
      s--;
      continue;
    }
    break;
  }
  return s;
}

function braceSymbols(text: string, lang: Language): CodeSymbol[] {
  const masked = maskCode(text, lang);
  const lines = text.split("\n");
  const mlines = masked.split("\n");
  // Brace depth at the start of each line.
  const depthAt: number[] = [];
  let d = 0;
  for (const ml of mlines) {
    depthAt.push(d);
    for (const ch of ml) {
      if (ch === "{") d++;
      else if (ch === "}") d = Math.max(0, d - 1);
    }
  }
  const symbols: CodeSymbol[] = [];
  // Open containers (classes/impls/traits/interfaces) whose body we are inside.
  const containers: { name: string; kind: SymbolKind; bodyDepth: number; end: number }[] = [];
  for (let l = 0; l < mlines.length; l++) {
    while (containers.length > 0 && l > containers[containers.length - 1].end) containers.pop();
    const ml = mlines[l];
    if (ml.trim() === "") continue;
    const container = containers[containers.length - 1];
    const inClassBody = !!container && depthAt[l] === container.bodyDepth &&
      (container.kind === "class" || container.kind === "impl" || container.kind === "trait");
    let decl: Decl | null = null;
    if (lang === "go") decl = depthAt[l] === 0 ? goDecl(ml) : null;
    else if (lang === "rust") decl = rustDecl(ml);
    else decl = jsDecl(ml, inClassBody);
    if (!decl) continue;
    if (lang !== "go" && !inClassBody && depthAt[l] > 0 && decl.kind === "method") continue;
    const end = braceEnd(mlines, l, decl.kind !== "class");
    let kind = decl.kind;
    let parent = decl.parent;
    if (container && depthAt[l] === container.bodyDepth && kind === "function" && lang === "rust") {
      kind = "method";
      parent = container.name;
    }
    if (kind === "method" && !parent && container) parent = container.name;
    symbols.push({
      name: decl.name,
      kind,
      startLine: leadingStart(lines, mlines, l, lang) + 1,
      endLine: Math.max(l, end) + 1,
      parent,
      depth: depthAt[l] === 0 ? 0 : containers.length || 1,
    });
    if (kind === "class" || kind === "impl" || kind === "trait" || kind === "module") {
      containers.push({ name: decl.name, kind, bodyDepth: depthAt[l] + 1, end });
    }
  }
  // TypeScript overload signatures (`function f(a: string): void;`) have no body; when the implementation
  // follows, keep only the implementation so `extract --symbol f` finds the code.
  return symbols.filter((sym, i) => {
    if (sym.kind !== "function" && sym.kind !== "method") return true;
    const next = symbols.slice(i + 1).find((o) => o.name === sym.name && o.parent === sym.parent);
    if (!next) return true;
    const span = mlines.slice(sym.startLine - 1, sym.endLine).join("\n");
    return span.includes("{");
  });
}

function pythonSymbols(text: string): CodeSymbol[] {
  const masked = maskCode(text, "python");
  const lines = text.split("\n");
  const mlines = masked.split("\n");
  const indentOf = (s: string) => s.length - s.trimStart().length;
  const symbols: CodeSymbol[] = [];
  const stack: { name: string; kind: SymbolKind; indent: number }[] = [];
  // Lines that start a logical line (not a continuation inside brackets or a multi-line string).
  let bracket = 0;
  const starts: boolean[] = [];
  for (const ml of mlines) {
    starts.push(bracket === 0);
    for (const ch of ml) {
      if (ch === "(" || ch === "[" || ch === "{") bracket++;
      else if (ch === ")" || ch === "]" || ch === "}") bracket = Math.max(0, bracket - 1);
    }
  }
  // A line inside a multi-line string is blank when masked but not in the raw text: not a code line.
  const isCode = (l: number) => starts[l] && mlines[l].trim() !== "";
  for (let l = 0; l < mlines.length; l++) {
    if (!isCode(l)) continue;
    const ml = mlines[l];
    const m = /^(\s*)(?:async\s+)?(def|class)\s+([A-Za-z_]\w*)/.exec(ml);
    const indent = indentOf(ml);
    while (stack.length > 0 && stack[stack.length - 1].indent >= indent) stack.pop();
    if (!m) continue;
    let end = l;
    for (let k = l + 1; k < mlines.length; k++) {
      if (!isCode(k)) continue;
      if (indentOf(mlines[k]) <= indent) break;
      end = k;
    }
    // Include trailing lines of a multi-line string/bracket that belong to the last statement.
    while (end + 1 < mlines.length && !starts[end + 1]) end++;
    const parent = stack[stack.length - 1];
    const kind: SymbolKind = m[2] === "class" ? "class" : parent?.kind === "class" ? "method" : "function";
    symbols.push({
      name: m[3],
      kind,
      startLine: leadingStart(lines, mlines, l, "python") + 1,
      endLine: end + 1,
      parent: parent?.name,
      depth: stack.length,
    });
    stack.push({ name: m[3], kind, indent });
  }
  return symbols;
}

/**
 * Lists the symbols of a source text in order of appearance.
 *
 * @example
 * ```ts
 * extractSymbols("def f():\n    return 1\n", "python"); // [{name: "f", kind: "function", startLine: 1, endLine: 2, depth: 0}]
 * ```
 */
export function extractSymbols(text: string, lang: Language): CodeSymbol[] {
  return lang === "python" ? pythonSymbols(text) : braceSymbols(text, lang);
}

/**
 * Finds a symbol by name: `name` matches a symbol's own name or its qualified `Parent.name`; `nth` (1-based)
 * picks among several matches.
 */
export function findSymbol(symbols: CodeSymbol[], name: string, nth = 1): CodeSymbol | undefined {
  const hits = symbols.filter((s) => s.name === name || (s.parent && `${s.parent}.${s.name}` === name));
  return hits[nth - 1];
}
