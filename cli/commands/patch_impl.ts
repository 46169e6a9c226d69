/**
 * `patch FILE | --revert [ID] | --list` (loaded lazily by `cli/commands/agent.ts`): apply a unified diff
 * all-or-nothing (asking first under `--approval manual`), revert one from its backup, or list the
 * history. The patch logic lives in `agent/patch/`; this file parses arguments and prints.
 *
 * @module
 */

import { applyPatchText, listPatches, revertPatch } from "../../agent/mod.ts";
import { errorMessage, UsageError, UserError } from "../../core/errors.ts";
import { resolveInside } from "../../core/workspace.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import { noteFilesWritten } from "../session_index.ts";

/** `patch FILE | --revert [ID] | --list`. */
export async function runPatch(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("patch", args, {
    file: { type: "string" },
    revert: { type: "boolean" },
    list: { type: "boolean" },
    "dry-run": { type: "boolean" },
    force: { type: "boolean" },
    "max-files": { type: "string" },
    "max-lines": { type: "string" },
  }, { max: 1, names: "FILE" });
  const root = ctx.workspace;
  if (values.list) {
    const list = await listPatches(root, { limit: 50 });
    if (ctx.out.json) ctx.out.printJson(list);
    else if (!list.length) ctx.out.print("No patches applied yet.");
    else {
      ctx.out.table(
        ["id", "when", "files", "+", "-", "state", "task"],
        list.map((p) => [
          p.id,
          p.created_at.replace("T", " ").slice(0, 19),
          p.files.join(", ").slice(0, 50),
          p.added,
          p.removed,
          p.reverted ? "reverted" : "applied",
          (p.task ?? p.source ?? "").slice(0, 40),
        ]),
      );
    }
    return { ok: true, data: { list: true, count: list.length } };
  }
  if (values.revert) {
    const r = await revertPatch(root, positionals[0], { force: values.force });
    noteFilesWritten(ctx);
    if (ctx.out.json) ctx.out.printJson(r);
    else ctx.out.print(`Reverted patch ${r.id}: restored ${r.files.join(", ")}`);
    return { ok: true, data: { reverted: true, ...r } };
  }
  const file = values.file ?? positionals[0];
  if (!file) throw new UsageError("patch: give the diff file (patch FILE), or use --list / --revert [ID]");
  let text: string;
  try {
    text = file === "-"
      ? await new Response(Deno.stdin.readable).text()
      : await Deno.readTextFile(resolveInside(root, file));
  } catch (err) {
    if (err instanceof UserError) {
      // A diff file outside the workspace is fine to read; only targets are confined.
      try {
        text = await Deno.readTextFile(file);
      } catch {
        throw new UserError(`patch: cannot read ${file}`);
      }
    } else throw new UserError(`patch: cannot read ${file}: ${errorMessage(err)}`);
  }
  const patchOptions = {
    source: "patch",
    limits: {
      maxFiles: values["max-files"] ? intOption("patch", "max-files", values["max-files"], 0) : undefined,
      maxChangedLines: values["max-lines"]
        ? intOption("patch", "max-lines", values["max-lines"], 0)
        : undefined,
    },
  };
  const printChanges = (
    changes: { kind: string; oldPath?: string; path: string; added: number; removed: number }[],
  ) => {
    for (const ch of changes) {
      ctx.out.print(
        `  ${ch.kind.padEnd(6)} ${
          ch.oldPath ? `${ch.oldPath} → ` : ""
        }${ch.path}  +${ch.added} -${ch.removed}`,
      );
    }
  };
  let previewed = false;
  if (ctx.options.approval === "manual" && !values["dry-run"]) {
    // Manual approval: show what the patch would change and ask first. A patch that does not apply is not
    // asked about: the real attempt below fails the same way and is recorded in the history.
    const preview = await applyPatchText(root, text, { ...patchOptions, dryRun: true }).catch(() =>
      undefined
    );
    if (preview) {
      if (!ctx.out.json) printChanges(preview.changes);
      previewed = true;
      if (!(await ctx.confirm("Apply this patch?"))) {
        if (ctx.out.json) ctx.out.printJson({ applied: false, declined: true, files: preview.files });
        else ctx.out.print("Not applied (declined).");
        return { ok: true, data: { files: preview.files.length, declined: true } };
      }
    }
  }
  const res = await applyPatchText(root, text, { ...patchOptions, dryRun: values["dry-run"] });
  if (!res.dryRun) noteFilesWritten(ctx);
  if (ctx.out.json) ctx.out.printJson(res);
  else {
    if (!previewed) printChanges(res.changes);
    ctx.out.print(
      res.dryRun
        ? `Dry run: the patch applies cleanly (files: ${res.files.length}  +lines: ${res.added}  -lines: ${res.removed}); nothing written.`
        : `Applied patch ${res.id}: files: ${res.files.length}  +lines: ${res.added}  -lines: ${res.removed}. Undo with 'patch --revert ${res.id}'.`,
    );
  }
  return {
    ok: true,
    data: {
      id: res.id,
      files: res.files.length,
      added: res.added,
      removed: res.removed,
      dry_run: res.dryRun,
    },
  };
}
