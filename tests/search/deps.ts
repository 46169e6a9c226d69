/**
 * Shared imports for the search tests.
 *
 * @module
 */

export * from "../../agent/search/mod.ts";
export { UserError } from "../../core/errors.ts";
