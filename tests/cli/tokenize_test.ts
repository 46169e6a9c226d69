import assert from "node:assert/strict";
import { splitCommandLine, suggest } from "../../cli/tokenize.ts";

Deno.test("splitCommandLine handles quotes, escapes and && chains", () => {
  assert.deepEqual(splitCommandLine(`index && esearch "vector search"`), [["index"], [
    "esearch",
    "vector search",
  ]]);
  assert.deepEqual(splitCommandLine(`grep 'a && b' --glob '*.ts'`), [["grep", "a && b", "--glob", "*.ts"]]);
  assert.deepEqual(splitCommandLine(`edit "say \\"hi\\"" --apply`), [["edit", 'say "hi"', "--apply"]]);
  assert.deepEqual(splitCommandLine(`grep a\\ b ""`), [["grep", "a b", ""]]);
  assert.deepEqual(splitCommandLine("   "), []);
  assert.throws(() => splitCommandLine(`grep "open`), /unterminated/);
  assert.throws(() => splitCommandLine(`&& ls`), /needs a command/);
  assert.throws(() => splitCommandLine(`ls &&`), /needs a command/);
});

Deno.test("suggest finds near misses and prefixes", () => {
  const names = ["grep", "tree", "tail", "stats", "esearch", "emb-search"];
  assert.deepEqual(suggest("gerp", names)[0], "grep");
  assert.deepEqual(suggest("tre", names)[0], "tree");
  assert.deepEqual(suggest("xyzzy", names), []);
});
