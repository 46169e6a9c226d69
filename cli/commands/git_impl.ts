/**
 * The git commands (loaded lazily by `cli/commands/agent.ts`): `gstatus`, `glog` (recent commits, of a path
 * too), `gdiff` (the uncommitted changes, or the staged ones), `gadd PATHS…` (never stages dspy-code's own
 * `.dspy*` state) and `gcommit -m MSG`; reading the repository is `agent/tools/git.ts`'s.
 *
 * @module
 */

import { errorMessage, UsageError, UserError } from "../../core/errors.ts";
import { resolveInside } from "../../core/workspace.ts";
import { type CommandContext, type CommandResult, intOption, parseCommandArgs } from "../command.ts";
import { printDiff } from "./agent_format.ts";
import { openRepo, recentCommits, uncommittedChanges } from "../../agent/mod.ts";

/** `gstatus`. */
export async function runGstatus(args: string[], ctx: CommandContext): Promise<CommandResult> {
  parseCommandArgs("gstatus", args, {}, { max: 0 });
  const st = await (await openRepo(ctx.workspace)).status();
  const files = st.files.map((f) => ({ path: f.path, index: f.index, working_dir: f.working_dir }));
  const data = { branch: st.current, ahead: st.ahead, behind: st.behind, clean: st.isClean(), files };
  if (ctx.out.json) ctx.out.printJson(data);
  else {
    ctx.out.print(ctx.out.c.dim(`On branch ${st.current ?? "(detached)"}`));
    if (files.length === 0) ctx.out.print("(clean)");
    for (const f of files) ctx.out.print(`${(f.index + f.working_dir).padEnd(2)} ${f.path}`);
  }
  return { ok: true, data };
}

/** `glog [PATH] [--n N]`: the latest commits, newest first, with how much each changed. */
export async function runGlog(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("glog", args, {
    n: { type: "string", short: "n" },
  }, { max: 1, names: "PATH" });
  const n = intOption("glog", "n", values.n, 10, 1);
  const path = positionals[0];
  if (path) resolveInside(ctx.workspace, path);
  const commits = await recentCommits(ctx.workspace, n, path);
  if (ctx.out.json) ctx.out.printJson(commits);
  else if (commits.length === 0) ctx.out.print(path ? `(no commits touch ${path})` : "(no commits yet)");
  else {
    const { c } = ctx.out;
    for (const k of commits) {
      const size = k.merge
        ? "merge"
        : `${k.files} file${k.files === 1 ? "" : "s"} ${c.green(`+${k.insertions}`)} ${
          c.red(`-${k.deletions}`)
        }`;
      ctx.out.print(`${c.yellow(k.short)} ${c.dim(k.date.slice(0, 16).replace("T", " "))} ${k.subject}`);
      ctx.out.print(c.dim(`        ${k.author} · `) + size);
    }
  }
  return { ok: true, data: { commits: commits.length, path: path ?? null } };
}

/** Lines of diff `gdiff` prints before it says how many more there are (`--json` has them all). */
const MAX_DIFF_LINES = 400;

/** `gdiff [PATH] [--staged]`: the uncommitted changes as a unified diff. */
export async function runGdiff(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values, positionals } = parseCommandArgs("gdiff", args, {
    staged: { type: "boolean" },
  }, { max: 1, names: "PATH" });
  const path = positionals[0];
  if (path) resolveInside(ctx.workspace, path);
  const { diff: patch, untracked } = await uncommittedChanges(ctx.workspace, { path, staged: values.staged });
  if (ctx.out.json) {
    ctx.out.printJson({ staged: values.staged === true, diff: patch, untracked });
  } else {
    if (patch) {
      // A diff of thousands of lines scrolls the question out of sight: the first part, and how to see it all.
      const lines = patch.split("\n");
      printDiff(ctx, lines.slice(0, MAX_DIFF_LINES).join("\n"));
      if (lines.length > MAX_DIFF_LINES + 1) {
        ctx.out.print(ctx.out.c.dim(
          `… ${
            lines.length - 1 - MAX_DIFF_LINES
          } more lines: name a PATH to narrow it, or --json for all of it`,
        ));
      }
    } else ctx.out.print(values.staged ? "(nothing staged)" : "(no changes to tracked files)");
    if (untracked.length) {
      ctx.out.print(
        ctx.out.c.dim(
          `untracked (not in the diff): ${untracked.slice(0, 5).join(", ")}${
            untracked.length > 5 ? ` and ${untracked.length - 5} more` : ""
          }`,
        ),
      );
    }
  }
  return { ok: true, data: { changed: patch !== "", untracked: untracked.length } };
}

/** `gadd PATHS…`. */
export async function runGadd(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { positionals } = parseCommandArgs("gadd", args, {}, { min: 1, names: "PATHS" });
  for (const p of positionals) {
    resolveInside(ctx.workspace, p);
    if (/^(\.\/)?\.dspy/.test(p)) {
      throw new UserError(
        `gadd: ${p} is dspy-code's own state (index, patches, KV), not project code; not staged`,
      );
    }
  }
  const g = await openRepo(ctx.workspace);
  // dspy-code's state folders and files (.dspy/, .dspy_patches/ with backups of your files, .dspy_index/,
  // .dspy_rl_state.json ...) are never staged by 'gadd .'.
  // Those git already ignores (.git/info/exclude, see core/git_exclude.ts) are skipped by git itself, and
  // an exclude pathspec naming an ignored path makes `git add` fail, so only the others are excluded.
  const state: string[] = [];
  for await (const e of Deno.readDir(ctx.workspace)) {
    if (e.name.startsWith(".dspy_") || e.name === ".dspy") state.push(e.name);
  }
  const ignored = new Set(state.length ? await g.checkIgnore(state).catch(() => [] as string[]) : []);
  await g.add([...positionals, ...state.filter((n) => !ignored.has(n)).map((n) => `:(exclude)${n}`)]);
  ctx.out.print(`Staged: ${positionals.join(" ")}`);
  return { ok: true, data: { added: positionals } };
}

/** `gcommit -m MSG`. */
export async function runGcommit(args: string[], ctx: CommandContext): Promise<CommandResult> {
  const { values } = parseCommandArgs("gcommit", args, { message: { type: "string", short: "m" } }, {
    max: 0,
  });
  if (!values.message?.trim()) throw new UsageError('gcommit: give a message with -m "MESSAGE"');
  const g = await openRepo(ctx.workspace);
  const st = await g.status();
  if (
    st.staged.length === 0 && st.created.filter((f) => st.staged.includes(f)).length === 0 &&
    st.files.every((f) => f.index === " " || f.index === "?")
  ) {
    throw new UserError("gcommit: nothing is staged; stage files with 'gadd PATHS' first");
  }
  try {
    const r = await g.commit(values.message);
    ctx.out.print(`Committed ${r.commit || "(no id)"} on ${r.branch}: ${r.summary.changes} file(s) changed`);
    return { ok: true, data: { commit: r.commit, branch: r.branch } };
  } catch (err) {
    throw new UserError(
      `gcommit failed: ${
        errorMessage(err).split("\n")[0]
      } (set user.name/user.email with git config if git asks who you are)`,
    );
  }
}
