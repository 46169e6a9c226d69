import assert from "node:assert/strict";
import { extractSymbols, type Language } from "./deps.ts";

function names(text: string, lang: Language): string[] {
  return extractSymbols(text, lang).map((s) =>
    `${s.kind} ${s.parent ? s.parent + "." : ""}${s.name} ${s.startLine}-${s.endLine}`
  );
}

Deno.test("TypeScript: functions, classes, methods, arrows; braces in strings, regexes and templates ignored", () => {
  const ts = [
    "import { x } from 'y';", // 1
    "/** Docs. */", // 2
    "export async function foo(a = {}, b: string): Promise<void> {", // 3
    "  const re = /[{]/;", // 4
    '  const s = "}";', // 5
    "}", // 6
    "export class Bar extends Base {", // 7
    "  #n = 0;", // 8
    "  constructor(private readonly n: number) {", // 9
    "    super();", // 10
    "  }", // 11
    "  async run(x: number): Promise<number> {", // 12
    "    if (x) { console.log(`${x}}`); }", // 13
    "    return x;", // 14
    "  }", // 15
    "}", // 16
    "export const arrow = (x: number) => {", // 17
    "  return x * 2;", // 18
    "};", // 19
    "const generic = async <T>(items: T[]): Promise<T[]> => {", // 20
    "  return items;", // 21
    "};", // 22
  ].join("\n");
  assert.deepEqual(names(ts, "typescript"), [
    "function foo 2-6",
    "class Bar 7-16",
    "method Bar.constructor 9-11",
    "method Bar.run 12-15",
    "function arrow 17-19",
    "function generic 20-22",
  ]);
});

Deno.test("TypeScript overload signatures give way to the implementation", () => {
  const ts = [
    "export function parse(a: string): number;",
    "export function parse(a: number): number;",
    "export function parse(a: string | number): number {",
    "  return Number(a);",
    "}",
    "declare function ambient(x: number): void;",
  ].join("\n");
  assert.deepEqual(names(ts, "typescript"), ["function parse 3-5", "function ambient 6-6"]);
});

Deno.test("JavaScript: CommonJS classes and exported functions", () => {
  const js = [
    "module.exports = class Runner extends EventEmitter {",
    "  async commit() {",
    "    return 1",
    "  }",
    "}",
    "exports.helper = function helper(a) {",
    "  return a",
    "}",
  ].join("\n");
  assert.deepEqual(names(js, "javascript"), [
    "class Runner 1-5",
    "method Runner.commit 2-4",
    "function helper 6-8",
  ]);
});

Deno.test("Python: decorators, methods, docstrings with odd indentation, continuation lines", () => {
  const py = [
    "import os", // 1
    "", // 2
    "@decorator", // 3
    "def top(a, b):", // 4
    '    """Doc', // 5
    "with weird indent", // 6
    '    """', // 7
    "    return a + b", // 8
    "", // 9
    "class Klass(Base):", // 10
    "    x = 1", // 11
    "", // 12
    "    def method(self):", // 13
    '        s = ("a",', // 14
    '  "b")', // 15
    "        return s", // 16
    "", // 17
    "    async def other(self):", // 18
    "        pass", // 19
    "", // 20
    "def last():", // 21
    "    pass", // 22
  ].join("\n");
  assert.deepEqual(names(py, "python"), [
    "function top 3-8",
    "class Klass 10-19",
    "method Klass.method 13-16",
    "method Klass.other 18-19",
    "function last 21-22",
  ]);
});

Deno.test("Go: functions, methods with receivers, structs", () => {
  const go = [
    "package main",
    "",
    "type Server struct {",
    "\tname string",
    "}",
    "",
    "func (s *Server) Handle(w int) error {",
    "\tif w > 0 {",
    '\t\treturn fmt.Errorf("{")',
    "\t}",
    "\treturn nil",
    "}",
    "",
    "func main() {",
    "\ts := `}`",
    "\t_ = s",
    "}",
  ].join("\n");
  assert.deepEqual(names(go, "go"), [
    "struct Server 3-5",
    "method Server.Handle 7-12",
    "function main 14-17",
  ]);
});

Deno.test("Rust: structs, impls, methods, lifetimes and char literals", () => {
  const rs = [
    "use std::fmt;",
    "",
    "#[derive(Debug)]",
    "pub struct Point { x: i32 }",
    "",
    "impl fmt::Display for Point {",
    "    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {",
    '        write!(f, "{{}}")',
    "    }",
    "}",
    "",
    "pub fn add<'a>(a: &'a str) -> char {",
    "    let c = '{';",
    "    c",
    "}",
  ].join("\n");
  assert.deepEqual(names(rs, "rust"), [
    "struct Point 3-4",
    "impl Point 6-10",
    "method Point.fmt 7-9",
    "function add 12-15",
  ]);
});
