/**
 * The Compose `environment:` list → mapping rewrite, for Compose versions that reject lists ("environment
 * must be a mapping"). Every `environment:` sequence in the file becomes a mapping in place:
 *
 * - `- KEY=VAL` → `KEY: "VAL"` (split at the first `=`, so `=` may appear in the value; `KEY=` → `KEY: ""`);
 * - `- KEY` → `KEY: ${KEY:-}` (passed through from the host, empty when unset);
 * - `- KEY: VAL` (a one-pair mapping written as a list item) → `KEY: "VAL"`.
 *
 * It works on the YAML document model of the npm `yaml` package (loaded on first use), so comments before,
 * between and after items, blank lines, anchors (`&env`), aliases (`*env`), merge keys and key order survive,
 * and the output is valid YAML. Values are written double-quoted, so Compose interpolation (`$VAR`,
 * `${VAR:-x}`, `$$`) means the same before and after. A duplicate key, a key with spaces or an item that is
 * not text is an error that names the line, never a silent change.
 *
 * @module
 */

import { UserError } from "../core/errors.ts";
import { atomicWriteFile } from "../core/atomic.ts";
import { basename, dirname, extname, join } from "node:path";
import type { Node as YamlNode } from "yaml";

/** A compose file the rewrite cannot handle (bad YAML, an environment item it cannot map). */
export class ComposeEnvError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "ComposeEnvError";
  }
}

/** What {@link rewriteComposeEnv} did. */
export interface EnvRewriteResult {
  /** The rewritten file text (the input unchanged when nothing was a list). */
  text: string;
  /** How many `environment:` lists became mappings. */
  blocks: number;
  /** How many variables they held. */
  variables: number;
}

type YamlModule = typeof import("yaml");
let yamlModule: Promise<YamlModule> | undefined;
/** Loads the `yaml` package once, on first use (it stays off the CLI's start-up path). */
function loadYaml(): Promise<YamlModule> {
  return yamlModule ??= import("yaml");
}

const KEY_RE = /^[^\s=]+$/;

/** The 1-based line of a node's start offset, for messages. */
function lineOf(text: string, offset: number | undefined): number {
  if (offset === undefined) return 0;
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Rewrites every `environment:` list in a compose file's text into a mapping.
 *
 * @param text the compose file
 * @param source the file name used in error messages
 * @example
 * ```ts
 * const { text, blocks } = await rewriteComposeEnv("services:\n  a:\n    environment:\n      - A=1\n");
 * // text: 'services:\n  a:\n    environment:\n      A: "1"\n', blocks: 1
 * ```
 */
export async function rewriteComposeEnv(text: string, source = "compose file"): Promise<EnvRewriteResult> {
  const Y = await loadYaml();
  const docs = Y.parseAllDocuments(text, { keepSourceTokens: false });
  if (!Array.isArray(docs)) {
    return { text, blocks: 0, variables: 0 }; // an empty stream: nothing to rewrite
  }
  if (docs.length !== 1) {
    throw new ComposeEnvError(
      `${source}: holds ${docs.length} YAML documents; a compose file is one document (remove the extra '---')`,
    );
  }
  const doc = docs[0];
  if (doc.errors.length > 0) {
    const err = doc.errors[0];
    throw new ComposeEnvError(
      `${source}: not valid YAML at line ${err.linePos?.[0]?.line ?? "?"}: ${
        err.message.split("\n")[0]
      } (fix the YAML first)`,
    );
  }
  let blocks = 0;
  let variables = 0;
  const failures: string[] = [];
  const where = (node: { range?: [number, number, number] | null }) =>
    `${source}:${lineOf(text, node.range?.[0])}`;

  Y.visit(doc, {
    Pair(_, pair) {
      if (!Y.isScalar(pair.key) || pair.key.value !== "environment" || !Y.isSeq(pair.value)) return;
      const seq = pair.value;
      const map = new Y.YAMLMap(doc.schema);
      map.anchor = seq.anchor;
      map.commentBefore = seq.commentBefore;
      map.comment = seq.comment;
      map.spaceBefore = seq.spaceBefore;
      const seen = new Map<string, number>();
      for (const item of seq.items) {
        let key: string;
        let value: string | null;
        let comments: { commentBefore?: string | null; comment?: string | null; spaceBefore?: boolean } = {};
        if (Y.isScalar(item) && typeof item.value === "string") {
          const raw = item.value;
          const eq = raw.indexOf("=");
          key = eq === -1 ? raw : raw.slice(0, eq);
          value = eq === -1 ? null : raw.slice(eq + 1);
          comments = item;
        } else if (Y.isMap(item) && item.items.length === 1 && Y.isScalar(item.items[0].key)) {
          const p = item.items[0];
          key = String((p.key as { value: unknown }).value);
          const v = p.value;
          if (v !== null && !(Y.isScalar(v) && v.value !== null && typeof v.value !== "object")) {
            failures.push(`${where(item)}: the value of ${key} is not text`);
            continue;
          }
          value = v === null || (Y.isScalar(v) && v.value === null)
            ? null
            : String((v as { value: unknown }).value);
          comments = {
            commentBefore: item.commentBefore,
            comment: item.comment ?? (Y.isScalar(v) ? v.comment : undefined),
            spaceBefore: item.spaceBefore,
          };
        } else {
          const node = item as { range?: [number, number, number] | null };
          failures.push(
            `${where(node)}: an environment item must be KEY=VALUE or KEY text, found ${
              Y.isAlias(item)
                ? "an alias"
                : Y.isMap(item)
                ? "a mapping"
                : Y.isSeq(item)
                ? "a list"
                : "a non-text value"
            }`,
          );
          continue;
        }
        key = key.trim();
        if (!KEY_RE.test(key)) {
          failures.push(`${where(item as YamlNode)}: '${key}' is not a variable name (no spaces, no '=')`);
          continue;
        }
        const line = lineOf(text, (item as YamlNode).range?.[0]);
        if (seen.has(key)) {
          failures.push(
            `${source}:${line}: ${key} is set twice in this environment (also line ${
              seen.get(key)
            }); keep one`,
          );
          continue;
        }
        seen.set(key, line);
        const keyNode = new Y.Scalar(key);
        keyNode.commentBefore = comments.commentBefore ?? undefined;
        keyNode.spaceBefore = comments.spaceBefore;
        const valueNode = value === null ? new Y.Scalar(`\${${key}:-}`) : new Y.Scalar(value);
        valueNode.type = value === null ? "PLAIN" : "QUOTE_DOUBLE";
        valueNode.comment = comments.comment ?? undefined;
        map.items.push(new Y.Pair(keyNode, valueNode));
        variables++;
      }
      if (seq.items.length === 0) map.flow = true; // `environment: []` → `environment: {}`
      pair.value = map;
      blocks++;
    },
  });
  if (failures.length > 0) {
    throw new ComposeEnvError(
      `cannot rewrite the environment lists:\n  ${failures.join("\n  ")}\nFix these items and run again.`,
    );
  }
  if (blocks === 0) return { text, blocks, variables };
  return { text: doc.toString({ lineWidth: 0, flowCollectionPadding: false }), blocks, variables };
}

/** The default output path for `compose fix-env FILE`: `X.yml` → `X.mapped.yml` beside it. */
export function mappedComposePath(file: string): string {
  const ext = extname(file);
  const stem = basename(file, ext);
  return join(dirname(file), `${stem}.mapped${ext || ".yml"}`);
}

/** Options for {@link fixComposeEnvFile}. */
export interface FixEnvOptions {
  /** Where to write (default {@link mappedComposePath}); `-` means do not write (the caller prints). */
  out?: string;
}

/** Reads a compose file, rewrites its environment lists, and writes the result atomically. */
export async function fixComposeEnvFile(
  file: string,
  options: FixEnvOptions = {},
): Promise<EnvRewriteResult & { out: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) throw new ComposeEnvError(`${file}: no such file`);
    if (err instanceof Deno.errors.IsADirectory) {
      throw new ComposeEnvError(`${file} is a folder: pass the compose file itself`);
    }
    throw err;
  }
  const result = await rewriteComposeEnv(text, file);
  const out = options.out ?? mappedComposePath(file);
  if (out !== "-") await atomicWriteFile(out, result.text);
  return { ...result, out };
}
