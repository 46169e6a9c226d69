/**
 * Test helpers for the search tests: build a small file tree in a temp folder.
 *
 * @module
 */

import { dirname, join } from "node:path";

/** Writes `files` (relative path → content) under a new temp folder and returns its real path. */
export async function makeTree(files: Record<string, string | Uint8Array>): Promise<string> {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "dspy-search-" }));
  for (const [rel, content] of Object.entries(files)) {
    const abs = join(root, rel);
    await Deno.mkdir(dirname(abs), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(abs, content);
    else await Deno.writeFile(abs, content);
  }
  return root;
}

/** Removes a temp tree. */
export async function removeTree(root: string): Promise<void> {
  await Deno.remove(root, { recursive: true }).catch(() => {});
}
