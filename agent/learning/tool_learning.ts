/**
 * Tool learning: after every learnable command, update the workspace's persisted bandit
 * (`.dspy_rl_state.json`), append `{ts, tool, reward}` to `.dspy_rl_events.jsonl`, and maintain the session
 * summary (KV `["agent.session.summary"]` = `{session_id, workspace, started_at, updated_at, steps, tools,
 * last_tool, avg_score}` and the `session.summary` metric `{session, steps, last_tool, avg_score}`).
 * Updates to the state file are serialised within the process, and across processes by a file lock
 * (re-read, update and write happen under it), and written atomically; the policy comes
 * from the saved file, `RL_POLICY` overriding it (`RL_EPSILON`, `RL_UCB_C` tune it).
 *
 * @module
 */

import { appendJsonLine } from "../../core/atomic.ts";
import { emitMetric } from "../../core/events.ts";
import { openWorkspaceKv, withKvRetry } from "../../core/kv.ts";
import { workspacePaths } from "../../core/workspace.ts";
import { type Bandit, loadBanditFile, saveBanditFile } from "../../learning/mod.ts";
import { LEARNABLE_TOOLS, rewardOf } from "./scoring.ts";

/** KV key of the session summary. */
export const SESSION_SUMMARY_KEY: Deno.KvKey = ["agent.session.summary"];

/** The stored session summary. */
export interface SessionSummary {
  session_id: string;
  workspace: string;
  started_at: number;
  updated_at: number;
  steps: number;
  tools: Record<string, number>;
  last_tool: string;
  avg_score: number;
}

function envNumber(name: string): number | undefined {
  const v = Deno.env.get(name);
  if (!v) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Loads the workspace bandit (fresh when missing or corrupt), honouring `RL_POLICY`/`RL_EPSILON`/`RL_UCB_C`. */
export function loadToolBandit(workspace: string, seed?: number): Promise<Bandit> {
  return loadBanditFile(workspacePaths(workspace).rlStateFile, {
    tools: LEARNABLE_TOOLS,
    policy: Deno.env.get("RL_POLICY") || undefined,
    epsilon: envNumber("RL_EPSILON"),
    ucbC: envNumber("RL_UCB_C"),
    seed,
    onCorrupt: "fresh",
  });
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Records one scored tool use: bandit update + save, events line, session summary (the three at once).
 * Returns the reward. Calls are serialised so concurrent updates in one process never lose a write.
 */
export function learnFromTool(
  workspace: string,
  session: string,
  tool: string,
  score: number,
): Promise<number | undefined> {
  const run = async (): Promise<number | undefined> => {
    if (!LEARNABLE_TOOLS.includes(tool) && tool !== "chat") return undefined;
    // The session summary (KV) and the bandit file + events line are independent stores: update them at
    // once, so the command ends after the slower of the two rather than after both.
    const summaryDone = updateSessionSummary(workspace, session, tool, score).then((summary) =>
      emitMetric("session.summary", {
        session,
        steps: summary.steps,
        last_tool: summary.last_tool,
        avg_score: summary.avg_score,
      })
    );
    if (!LEARNABLE_TOOLS.includes(tool)) {
      await summaryDone;
      return undefined;
    }
    const reward = rewardOf(score);
    const paths = workspacePaths(workspace);
    const banditDone = withStateLock(workspace, async () => {
      const bandit = await loadToolBandit(workspace);
      bandit.update(tool, reward);
      await saveBanditFile(paths.rlStateFile, bandit);
    });
    const eventDone = appendJsonLine(paths.rlEventsFile, { ts: Math.floor(Date.now() / 1000), tool, reward });
    // allSettled first, so a failure of one never leaves another write running past the caller.
    const results = await Promise.allSettled([summaryDone, banditDone, eventDone]);
    for (const r of results) if (r.status === "rejected") throw r.reason;
    return reward;
  };
  const next = queue.then(run, run);
  queue = next.catch(() => {});
  return next;
}

/**
 * Runs `fn` holding an exclusive lock on `.dspy/rl_state.lock` (flock), so two processes updating
 * `.dspy_rl_state.json` at once never lose an update: the file is re-read, updated and written under the
 * lock. The operating system releases the lock when a process dies, so a crash never leaves it held.
 */
async function withStateLock(workspace: string, fn: () => Promise<void>): Promise<void> {
  const { stateDir } = workspacePaths(workspace);
  await Deno.mkdir(stateDir, { recursive: true });
  const file = await Deno.open(`${stateDir}/rl_state.lock`, { read: true, write: true, create: true });
  try {
    await file.lock(true);
    await fn();
  } finally {
    file.close(); // closing releases the lock
  }
}

/** Updates the KV session summary (running mean of scores) and returns it. */
export async function updateSessionSummary(
  workspace: string,
  session: string,
  tool: string,
  score: number,
): Promise<SessionSummary> {
  const kv = await openWorkspaceKv(workspace);
  const now = Date.now() / 1000;
  // Writers in other processes (other sessions in the same workspace) race for this one key: retry the
  // check-and-set with a jittered pause rather than giving up after a few collisions.
  for (let attempt = 0; attempt < 50; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 4 * Math.min(attempt, 5)));
    const current = await withKvRetry(() => kv.get<SessionSummary>(SESSION_SUMMARY_KEY));
    const prev = current.value && current.value.session_id === session ? current.value : undefined;
    const steps = (prev?.steps ?? 0) + 1;
    const summary: SessionSummary = {
      session_id: session,
      workspace,
      started_at: prev?.started_at ?? now,
      updated_at: now,
      steps,
      tools: { ...(prev?.tools ?? {}), [tool]: (prev?.tools?.[tool] ?? 0) + 1 },
      last_tool: tool,
      avg_score: Number((((prev?.avg_score ?? 0) * (steps - 1) + score) / steps).toFixed(4)),
    };
    const res = await withKvRetry(() =>
      kv.atomic().check(current).set(SESSION_SUMMARY_KEY, summary).commit()
    );
    if (res.ok) return summary;
  }
  throw new Error("could not update the session summary (KV contention)");
}

/** Reads the stored session summary. */
export async function readSessionSummary(workspace: string): Promise<SessionSummary | null> {
  const kv = await openWorkspaceKv(workspace);
  return (await kv.get<SessionSummary>(SESSION_SUMMARY_KEY)).value;
}
