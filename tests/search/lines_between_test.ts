import assert from "node:assert/strict";
import { linesBetween } from "../../agent/search/lexical_index.ts";

Deno.test("linesBetween gives what splitting the whole text and slicing gives", () => {
  const texts = ["", "a", "a\n", "a\nb", "a\nb\n", "\n\n", "one\ntwo\r\nthree\n\nfive", "x\n".repeat(40)];
  for (const text of texts) {
    const lines = text.split("\n");
    for (let first = 1; first <= lines.length + 2; first++) {
      for (let last = first - 1; last <= lines.length + 2; last++) {
        assert.deepEqual(
          linesBetween(text, first, last),
          lines.slice(first - 1, last),
          `${JSON.stringify(text)} ${first}-${last}`,
        );
      }
    }
  }
});
