/**
 * Regular-expression helpers shared by every layer: the one place that knows which characters must be
 * escaped to match a string literally (grep's `--fixed`, the router's symbol rules, the server's route
 * paths, topic patterns).
 *
 * @module
 */

/**
 * Escapes every character that has a meaning in a JavaScript regular expression (including `/`, which is
 * a valid escape in both plain and `u`-flag patterns), so `new RegExp(escapeRegExp(s))` matches `s`
 * literally.
 *
 * @example
 * ```ts
 * new RegExp(escapeRegExp("a.b(c)")).test("a.b(c)"); // true
 * new RegExp(escapeRegExp("a.b")).test("axb"); // false
 * ```
 */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}
