/**
 * The git commands (loaded lazily by `cli/commands/agent.ts`): `gstatus`, `gadd PATHS…` (never stages
 * dspy-code's own `.dspy*` state) and `gcommit -m MSG`, through simple-git, which loads on first use.
 *
 * @module
 */

import { errorMessage, UsageError, UserError } from "../../core/errors.ts";
import { resolveInside } from "../../core/workspace.ts";
import { type CommandContext, type CommandResult, parseCommandArgs } from "../command.ts";

async function git(root: string) {
  const { simpleGit } = await import("simple-git");
  const g = simpleGit({ baseDir: root, binary: "git", maxConcurrentProcesses: 1 });
  if (!(await g.checkIsRepo().catch(() => false))) {
    throw new UserError(`${root} is not a git repository: run 'git init' there first`);
  }
  return g;
}

/** `gstatus`. */
export async function runGstatus(args: string[], ctx: CommandContext): Promise<CommandResult> {
  parseCommandArgs("gstatus", args, {}, { max: 0 });
  const st = await (await git(ctx.workspace)).status();
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
  const g = await git(ctx.workspace);
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
  const g = await git(ctx.workspace);
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
