import assert from "node:assert/strict";
import ignore from "ignore";
import { createGitignore, walkFiles } from "./deps.ts";
import { makeTree, removeTree } from "./helpers.ts";

/** `[patterns, path, expected]` with expected "ignored", "unignored" or "-" (no rule matched). */
const CASES: [string[], string, "ignored" | "unignored" | "-"][] = [
  // blank lines, comments, escapes, trailing spaces
  [["", "# a.txt"], "a.txt", "-"],
  [["\\#a.txt"], "#a.txt", "ignored"],
  [["a.txt   "], "a.txt", "ignored"],
  [["a.txt\\ "], "a.txt ", "ignored"],
  [["a.txt\\ "], "a.txt", "-"],
  [["a.txt\\"], "a.txt", "-"], // a trailing lone backslash makes the line invalid
  [["\\!important"], "!important", "ignored"],
  // negation: the last matching line wins
  [["*.log", "!keep.log"], "keep.log", "unignored"],
  [["*.log", "!keep.log"], "debug.log", "ignored"],
  [["!keep.log", "*.log"], "keep.log", "ignored"],
  // ...but nothing inside an excluded folder comes back
  [["logs/", "!logs/keep.log"], "logs/keep.log", "ignored"],
  [["logs/*", "!logs/keep.log"], "logs/keep.log", "unignored"],
  // without a slash: at any depth; with one: anchored to the file's folder
  [["tmp"], "a/b/tmp", "ignored"],
  [["tmp"], "a/tmp/x.js", "ignored"],
  [["/tmp"], "a/tmp", "-"],
  [["/tmp"], "tmp/x.js", "ignored"],
  [["doc/*.md"], "doc/a.md", "ignored"],
  [["doc/*.md"], "x/doc/a.md", "-"],
  [["doc/*.md"], "doc/sub/a.md", "-"],
  // a trailing slash: folders only
  [["build/"], "build", "-"],
  [["build/"], "build/", "ignored"],
  [["build/"], "src/build/out.js", "ignored"],
  // wildcards never cross a slash
  [["*.js"], "src/a.js", "ignored"],
  [["src/*.js"], "src/a/b.js", "-"],
  [["a?c"], "abc", "ignored"],
  [["a?c"], "a/c", "-"],
  [["[ab]x"], "bx", "ignored"],
  [["[!ab]x"], "bx", "-"],
  [["[!ab]x"], "cx", "ignored"],
  [["[a-c]x"], "cx", "ignored"],
  [["[[:digit:]]x"], "7x", "ignored"],
  [["[ab"], "[ab", "-"], // an unterminated bracket matches nothing
  [["foo/*"], "foo/", "-"],
  [["foo/*"], "foo/bar", "ignored"],
  // **
  [["**/foo"], "foo", "ignored"],
  [["**/foo"], "a/b/foo", "ignored"],
  [["**/a/b"], "x/a/b", "ignored"],
  [["a/**"], "a/", "-"],
  [["a/**"], "a/x/y.js", "ignored"],
  [["a/**/b"], "a/b", "ignored"],
  [["a/**/b"], "a/x/y/b", "ignored"],
  [["a/**/b"], "x/a/b", "-"],
  [["a**b"], "axxb", "ignored"],
  [["a**b"], "ax/b", "-"],
  [["**"], "any/thing.js", "ignored"],
  // case-sensitive, as git
  [["*.LOG"], "debug.log", "-"],
];

Deno.test("gitignore: each rule of gitignore(5)", () => {
  for (const [patterns, path, expected] of CASES) {
    const v = createGitignore(patterns).test(path);
    const got = v.ignored ? "ignored" : v.unignored ? "unignored" : "-";
    assert.equal(got, expected, `${JSON.stringify(patterns)} on ${path}`);
  }
  const text = createGitignore("\uFEFF# header\r\n*.tmp\r\n\r\n!keep.tmp\r\n");
  assert.equal(text.size, 2);
  assert.equal(text.ignores("a.tmp"), true);
  assert.equal(text.ignores("keep.tmp"), false);
  assert.equal(createGitignore("*.LOG", { ignoreCase: true }).ignores("debug.log"), true);
});

/** A small seeded generator (LCG), so a failure names a reproducible case. */
function generator(seed: number) {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state / 0x7fffffff;
  };
  return { next, pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] };
}

const NAMES = ["a", "b", "ab", "x.js", "y.ts", "a.b", "ba", ".h", "x", "A", "B.JS"];
const SEGMENTS = [
  "a",
  "b",
  "ab",
  "x.js",
  "A",
  "*",
  "?",
  "*.js",
  "*.JS",
  "a*",
  "*b",
  "[ab]",
  "[!a]",
  "[^b]",
  "[a-c]",
  "[]a]",
  "[a",
  "x.*",
  "**",
  "***",
  "a?",
  ".h",
  "*.ts",
  "[[:alpha:]]b",
  "[[:upper:]]",
  "\\*",
  "a\\?",
  "a**",
  "**b",
]; // deno-fmt-ignore

/** A pattern from the pieces above: 1-3 segments, maybe anchored, `**&#47;`-led, dir-only, `/**`, negated. */
function randomPattern(g: ReturnType<typeof generator>): string {
  const n = 1 + Math.floor(g.next() * 3);
  let p = Array.from({ length: n }, () => g.pick(SEGMENTS)).join("/");
  const lead = g.next();
  if (lead < 0.2) p = "/" + p;
  else if (lead < 0.3) p = "**/" + p;
  const tail = g.next();
  if (tail < 0.2) p += "/";
  else if (tail < 0.3) p += "/**";
  else if (tail < 0.35) p += "  ";
  if (g.next() < 0.25) p = "!" + p;
  return p;
}

function randomPath(g: ReturnType<typeof generator>): string {
  const n = 1 + Math.floor(g.next() * 4);
  const p = Array.from({ length: n }, () => g.pick(NAMES)).join("/");
  return g.next() < 0.3 ? p + "/" : p;
}

for (const ignoreCase of [false, true]) {
  Deno.test(`gitignore: agrees with the ignore package on 60 000 generated cases (ignoreCase ${ignoreCase})`, () => {
    const g = generator(ignoreCase ? 7 : 13);
    let ignored = 0;
    let unignored = 0;
    const differ: string[] = [];
    for (let set = 0; set < 6000; set++) {
      const patterns = Array.from({ length: 1 + Math.floor(g.next() * 3) }, () => randomPattern(g));
      const reference = ignore({ ignorecase: ignoreCase }).add(patterns);
      const ours = createGitignore(patterns, { ignoreCase });
      for (let k = 0; k < 10; k++) {
        const path = randomPath(g);
        const want = reference.test(path);
        const got = ours.test(path);
        if (want.ignored) ignored++;
        if (want.unignored) unignored++;
        if (want.ignored !== got.ignored || want.unignored !== got.unignored) {
          differ.push(`${JSON.stringify(patterns)} on ${path}: ignore says ${JSON.stringify(want)}`);
        }
      }
    }
    assert.deepEqual(differ.slice(0, 10), []);
    // The generator exercises both outcomes, not only "no rule matched".
    assert.ok(ignored > 5000 && unignored > 1000, `ignored ${ignored}, unignored ${unignored}`);
  });
}

Deno.test("gitignore in the walk: nested files, anchored and ** patterns, re-included folders", async () => {
  const root = await makeTree({
    ".gitignore": "*.gen.ts\n/out/\nvendor/**/test/\n!keep.gen.ts\n",
    "a.gen.ts": "x",
    "keep.gen.ts": "x",
    "b.ts": "x",
    "out/o.ts": "x",
    "sub/out/o.ts": "x", // /out/ is anchored to the root
    "vendor/lib/test/t.ts": "x",
    "vendor/lib/src/s.ts": "x",
    "pkg/.gitignore": "!a.gen.ts\n/local/\nUPPER.ts\n",
    "pkg/a.gen.ts": "x", // re-included by the deeper file
    "pkg/b.gen.ts": "x",
    "pkg/local/l.ts": "x",
    "pkg/deep/local/l.ts": "x", // /local/ is anchored to pkg/
    "pkg/upper.ts": "x", // case-sensitive: UPPER.ts does not match
  });
  try {
    const rels = (await walkFiles(root)).map((f) => f.rel);
    assert.deepEqual(rels, [
      ".gitignore",
      "b.ts",
      "keep.gen.ts",
      "pkg/.gitignore",
      "pkg/a.gen.ts",
      "pkg/deep/local/l.ts",
      "pkg/upper.ts",
      "sub/out/o.ts",
      "vendor/lib/src/s.ts",
    ]);
  } finally {
    await removeTree(root);
  }
});
