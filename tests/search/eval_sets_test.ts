import assert from "node:assert/strict";
import { join } from "node:path";
import { CORPORA, loadEvalSet } from "../../bench/search_corpora.ts";

Deno.test("the evaluation sets have enough queries of each kind, split evenly by the alternation rule", async () => {
  for (const name of CORPORA) {
    const set = await loadEvalSet(name); // throws when a query sits in the wrong half
    const of = (kind: string, split: string) =>
      set.queries.filter((q) => q.kind === kind && q.split === split).length;
    assert.ok(of("behaviour", "tune") + of("behaviour", "test") >= 40, `${name}: behavioural queries`);
    assert.ok(of("identifier", "tune") + of("identifier", "test") >= 20, `${name}: identifier lookups`);
    assert.equal(of("behaviour", "tune"), of("behaviour", "test"), name);
    assert.equal(of("identifier", "tune"), of("identifier", "test"), name);
    for (const q of set.queries) {
      assert.ok(q.relevant.length > 0 && q.relevant.every((p) => !p.startsWith("/")), q.query);
      if (q.kind === "identifier") assert.match(q.query, /^[A-Za-z_][\w.]*$/, q.query);
    }
    assert.match(set.package, /[@=]\d/, `${name}: the corpus version is pinned`);
  }
});

Deno.test("loadEvalSet refuses a set whose query was moved to the other half", async () => {
  const set = await loadEvalSet("gin");
  const first = set.queries.findIndex((q) => q.kind === "behaviour");
  set.queries[first].split = "test";
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "gin_eval.json"), JSON.stringify(set));
    await assert.rejects(loadEvalSet("gin", dir), /alternation puts it in 'tune'/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
