/**
 * Lazy imports that stay off the start-up path. Deno builds the module graph of `main.ts` before running it,
 * and that graph follows every `import("literal")` — even one that never runs — so each command's heavy
 * implementation (and its npm packages) would be resolved and parsed on every start, `--help` included
 * (measured: 10 ms for the agent's implementation alone). Importing by a computed URL keeps a module out of
 * that graph until a command actually needs it. `deno compile` cannot see such imports, so
 * `scripts/compile.ts` includes the source folders explicitly.
 *
 * @module
 */

/**
 * Imports a module at run time by URL, typed by the caller.
 *
 * @example
 * ```ts
 * const impl = () => lazyImport<typeof import("./edit_impl.ts")>(new URL("./edit_impl.ts", import.meta.url));
 * ```
 */
export function lazyImport<T>(url: URL): Promise<T> {
  return import(url.href);
}
