/**
 * Worker entry point for {@link createWorkerVectorEnv}: builds a slice of envs from an {@link EnvSpec},
 * then answers reset/step/snapshot/restore/close requests. An exception inside an env is answered with an
 * error message naming the env; anything that escapes kills the worker, which the parent reports.
 *
 * @module
 */

import { makeEnvFromSpec } from "./env.ts";
import { EnvGroup, type GroupSnapshot } from "./vector_env.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(msg: unknown): void;
  close(): void;
}

const scope = globalThis as unknown as WorkerScope;
let group: EnvGroup | null = null;
let queue: Promise<void> = Promise.resolve();

async function handle(msg: { type: string; id: number; [k: string]: unknown }): Promise<void> {
  try {
    switch (msg.type) {
      case "init": {
        const spec = msg.spec as Parameters<typeof makeEnvFromSpec>[0];
        const offset = msg.offset as number;
        const count = msg.count as number;
        const envs = [];
        for (let i = 0; i < count; i++) envs.push(await makeEnvFromSpec(spec));
        group = new EnvGroup(envs, offset);
        scope.postMessage({
          type: "ok",
          id: msg.id,
          observationSize: envs[0].observationSize,
          actionCount: envs[0].actionCount,
          actionNames: envs[0].actionNames ? [...envs[0].actionNames] : undefined,
        });
        return;
      }
      case "reset": {
        const obs = await group!.reset(msg.seed as number | undefined);
        scope.postMessage({ type: "ok", id: msg.id, obs });
        return;
      }
      case "step": {
        const r = await group!.step(msg.actions as Int32Array);
        const infos = r.infos.some((i) => i && Object.keys(i).length > 0) ? r.infos : null;
        scope.postMessage({ type: "ok", id: msg.id, ...r, infos });
        return;
      }
      case "snapshot":
        scope.postMessage({ type: "ok", id: msg.id, snapshot: group!.snapshot() });
        return;
      case "restore":
        group!.restore(msg.snapshot as GroupSnapshot);
        scope.postMessage({ type: "ok", id: msg.id });
        return;
      case "close":
        await group?.close();
        scope.postMessage({ type: "ok", id: msg.id });
        return;
      default:
        throw new Error(`unknown request ${msg.type}`);
    }
  } catch (err) {
    scope.postMessage({
      type: "error",
      id: msg.id,
      message: err instanceof Error ? err.message : String(err),
    });
  }
}

scope.onmessage = (e: MessageEvent) => {
  // Requests are handled strictly in order, even when an env is async.
  queue = queue.then(() => handle(e.data));
};
