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
  const out = text.split("");
  const n = text.length;
  const blank = (from: number, to: number) => {
    for (let k = from; k < to && k < n; k++) if (out[k] !== "\n") out[k] = " ";
  };
  let i = 0;
  let lastSig = ""; // last significant code character (for the regex-literal heuristic)
  while (i < n) {
    const ch = text[i];
    const next = text[i + 1];
    if (lang === "python") {
      if (ch === "#") {
        const end = text.indexOf("\n", i);
        blank(i, end < 0 ? n : end);
        i = end < 0 ? n : end;
        continue;
      }
      if (ch === '"' || ch === "'") {
        const triple = text.startsWith(ch.repeat(3), i);
        const quote = triple ? ch.repeat(3) : ch;
        let j = i + quote.length;
        while (j < n) {
          if (text[j] === "\\") {
            j += 2;
            continue;
          }
          if (text.startsWith(quote, j)) break;
          if (!triple && text[j] === "\n") break;
          j++;
        }
        const end = Math.min(n, j + quote.length);
        blank(i + quote.length, j);
        i = end;
        continue;
      }
      i++;
      continue;
    }
    // C-like languages.
    if (ch === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      blank(i, end < 0 ? n : end);
      i = end < 0 ? n : end;
      continue;
    }
    if (ch === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      blank(i, stop);
      i = stop;
      continue;
    }
    if (
      lang === "rust" && ch === "r" && (next === '"' || next === "#") &&
      !/[A-Za-z0-9_]/.test(text[i - 1] ?? "")
    ) {
      // raw string r"..." or r#"..."#
      let j = i + 1;
      let hashes = 0;
      while (text[j] === "#") {
        hashes++;
        j++;
      }
      if (text[j] === '"') {
        const closing = '"' + "#".repeat(hashes);
        const end = text.indexOf(closing, j + 1);
        const stop = end < 0 ? n : end + closing.length;
        blank(j + 1, end < 0 ? n : end);
        i = stop;
        lastSig = '"';
        continue;
      }
    }
    if (ch === "'" && lang === "rust") {
      // char literal ('a', '\n', '\u{1F600}') or a lifetime ('a): a literal closes within a few characters.
      const m = /^'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'\n])'/.exec(text.slice(i, i + 12));
      if (m) {
        blank(i + 1, i + m[0].length - 1);
        i += m[0].length;
        lastSig = "'";
        continue;
      }
      i++;
      continue;
    }
    if (ch === '"' || ch === "'" || ch === "`") {
      let j = i + 1;
      const multiline = ch === "`";
      while (j < n) {
        if (text[j] === "\\" && !(lang === "go" && ch === "`")) {
          j += 2;
          continue;
        }
        if (text[j] === ch) break;
        if (!multiline && text[j] === "\n") break;
        j++;
      }
      blank(i + 1, j);
      i = j + 1;
      lastSig = ch;
      continue;
    }
    if (
      ch === "/" && (lang === "typescript" || lang === "javascript") &&
      (lastSig === "" || "(,=:[!&|?{};".includes(lastSig))
    ) {
      // A regex literal: skip to the closing slash (outside a character class), on this line only.
      let j = i + 1;
      let inClass = false;
      while (j < n && text[j] !== "\n") {
        if (text[j] === "\\") {
          j += 2;
          continue;
        }
        if (text[j] === "[") inClass = true;
        else if (text[j] === "]") inClass = false;
        else if (text[j] === "/" && !inClass) break;
        j++;
      }
      if (j < n && text[j] === "/") {
        blank(i + 1, j);
        i = j + 1;
        lastSig = "/";
        continue;
      }
    }
    if (!/\s/.test(ch)) lastSig = ch;
    i++;
  }
  return out.join("");
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

function jsDecl(line: string, inClassBody: boolean): Decl | null {
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
    /^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\([^)]*\)?\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>|\()/
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
  let m = /^func\s+\(\s*(?:\w+\s+)?\*?\s*([A-Za-z_]\w*)(?:\[[^\]]*\])?\s*\)\s*([A-Za-z_]\w*)/.exec(line);
  if (m) return { name: m[2], kind: "method", parent: m[1] };
  m = /^func\s+([A-Za-z_]\w*)/.exec(line);
  if (m) return { name: m[1], kind: "function" };
  m = /^type\s+([A-Za-z_]\w*)(?:\[[^\]]*\])?\s+(struct|interface)\b/.exec(line);
  if (m) return { name: m[1], kind: m[2] === "struct" ? "struct" : "interface" };
  return null;
}

function rustDecl(line: string): Decl | null {
  const vis = String.raw`(?:pub(?:\([^)]*\))?\s+)?`;
  let m = new RegExp(
    String
      .raw`^\s*${vis}(?:default\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+"[^"]*"\s+)?fn\s+([A-Za-z_]\w*)`,
  ).exec(line);
  if (m) return { name: m[1], kind: "function" };
  m = new RegExp(String.raw`^\s*${vis}struct\s+([A-Za-z_]\w*)`).exec(line);
  if (m) return { name: m[1], kind: "struct" };
  m = new RegExp(String.raw`^\s*${vis}enum\s+([A-Za-z_]\w*)`).exec(line);
  if (m) return { name: m[1], kind: "enum" };
  m = new RegExp(String.raw`^\s*${vis}(?:unsafe\s+)?trait\s+([A-Za-z_]\w*)`).exec(line);
  if (m) return { name: m[1], kind: "trait" };
  m = /^\s*(?:unsafe\s+)?impl\b(?:\s*<[^{]*?>)?\s+(?:[\w:<>, ]+?\s+for\s+)?&?([A-Za-z_][\w:]*)/.exec(line);
  if (m) return { name: m[1].split("::").pop()!, kind: "impl" };
  m = new RegExp(String.raw`^\s*${vis}mod\s+([A-Za-z_]\w*)\s*\{`).exec(line);
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
  // Drop a trailing empty line artefact.
  return symbols;
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
