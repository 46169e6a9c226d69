/**
 * Terminal formatting shared by the agent commands: titled sections, bullet lists and coloured unified
 * diffs. Pure printing; no command logic.
 *
 * @module
 */

import type { CommandContext } from "../command.ts";

/** Items as `- item` lines, or `empty` when there are none. */
export function bullets(items: string[], empty = "(none)"): string {
  return items.length ? items.map((i) => `- ${i}`).join("\n") : empty;
}

/** Prints `── title ──`, the body and a blank line. */
export function section(ctx: CommandContext, title: string, body: string): void {
  const { c } = ctx.out;
  ctx.out.print(c.bold(c.cyan(`── ${title} ──`)), body, "");
}

/** Prints a unified diff with colours. */
export function printDiff(ctx: CommandContext, patch: string): void {
  const { c } = ctx.out;
  ctx.out.print(
    ...patch.replace(/\n$/, "").split("\n").map((l) =>
      l.startsWith("+++") || l.startsWith("---")
        ? c.bold(l)
        : l.startsWith("@@")
        ? c.cyan(l)
        : l.startsWith("+")
        ? c.green(l)
        : l.startsWith("-")
        ? c.red(l)
        : l
    ),
  );
}
