/**
 * Reading a workspace's git repository for the git commands: opening it (a clear error when it is not one),
 * the latest commits with how much each changed (`glog`), and the uncommitted or staged changes as a diff with
 * the untracked files a diff leaves out (`gdiff`). Through simple-git, which loads on first use.
 *
 * @module
 */

import { errorMessage, UserError } from "../../core/errors.ts";
import type { SimpleGit } from "simple-git";

/** The workspace's repository; a clear error when the workspace is not in one. */
export async function openRepo(root: string): Promise<SimpleGit> {
  const { simpleGit } = await import("simple-git");
  const g = simpleGit({ baseDir: root, binary: "git", maxConcurrentProcesses: 1 });
  if (!(await g.checkIsRepo().catch(() => false))) {
    throw new UserError(`${root} is not a git repository: run 'git init' there first`);
  }
  return g;
}

/** One commit as `glog` lists it. */
export interface LoggedCommit {
  hash: string;
  short: string;
  date: string;
  author: string;
  subject: string;
  /** More than one parent: a merge (git reports no size for it). */
  merge: boolean;
  files: number;
  insertions: number;
  deletions: number;
}

// Fields and records of `git log --format` are cut with the ASCII unit and record separators, which no
// subject or name contains.
const FIELD = "\x1f";
const RECORD = "\x1e";

/** `git log --shortstat` output in {@link FIELD}/{@link RECORD} format, commit by commit. */
function parseLog(text: string): LoggedCommit[] {
  const commits: LoggedCommit[] = [];
  for (const line of text.split("\n")) {
    if (line.includes(FIELD)) {
      const [hash, short, date, author, parents, subject] = line.replace(RECORD, "").split(FIELD);
      const merge = parents.trim().split(/\s+/).length > 1;
      commits.push({ hash, short, date, author, subject, merge, files: 0, insertions: 0, deletions: 0 });
    } else if (commits.length && /\d+ files? changed/.test(line)) {
      const last = commits[commits.length - 1];
      last.files = Number(/(\d+) files? changed/.exec(line)?.[1] ?? 0);
      last.insertions = Number(/(\d+) insertions?/.exec(line)?.[1] ?? 0);
      last.deletions = Number(/(\d+) deletions?/.exec(line)?.[1] ?? 0);
    }
  }
  return commits;
}

/** The latest `n` commits, newest first (of `path` only, when given); none in a repository without commits. */
export async function recentCommits(root: string, n: number, path?: string): Promise<LoggedCommit[]> {
  const g = await openRepo(root);
  try {
    return parseLog(
      await g.raw([
        "log",
        `-n${n}`,
        `--format=%H${FIELD}%h${FIELD}%aI${FIELD}%an${FIELD}%P${FIELD}%s${RECORD}`,
        "--shortstat",
        "--",
        ...(path ? [path] : []),
      ]),
    );
  } catch (err) {
    // A repository with no commit yet: nothing to list, rather than git's "does not have any commits yet".
    if (/does not have any commits|bad default revision/i.test(errorMessage(err))) return [];
    throw new UserError(`glog: ${errorMessage(err).split("\n")[0]}`);
  }
}

/** The uncommitted changes to tracked files (or the staged ones) as a unified diff, and the untracked files. */
export async function uncommittedChanges(
  root: string,
  options: { path?: string; staged?: boolean } = {},
): Promise<{ diff: string; untracked: string[] }> {
  const g = await openRepo(root);
  const path = options.path ? [options.path] : [];
  const diff = await g.raw(["diff", ...(options.staged ? ["--cached"] : []), "--", ...path]);
  return { diff, untracked: (await g.status(path)).not_added };
}
