/**
 * `GET /api/status`: each component (bus, KV, the resource guard, Ollama, and Kafka / InferMesh when
 * configured) with `ok`, `warn` or `down` and a reason a user can act on, plus the worst of them as the
 * overall status. Network probes have short timeouts and are cached for a few seconds so a polling
 * dashboard does not hammer them.
 *
 * @module
 */

import { checkGuard } from "../../core/guard.ts";
import type { RouteModule } from "../app.ts";
import type { ServerState } from "../state.ts";

/** Health of one component. */
export interface ComponentStatus {
  status: "ok" | "warn" | "down";
  reason: string;
}

const RANK = { ok: 0, warn: 1, down: 2 } as const;
const PROBE_CACHE_MS = 5000;

async function probeHttp(url: string, timeoutMs = 1500): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return { ok: res.ok, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message.split("\n")[0] : String(err) };
  }
}

async function probeTcp(hostPort: string, timeoutMs = 1500): Promise<{ ok: boolean; detail: string }> {
  const m = /^(?:[a-z]+:\/\/)?\[?([^\]]+?)\]?:(\d+)$/i.exec(hostPort.trim());
  if (!m) return { ok: false, detail: `cannot parse broker address '${hostPort}' (want host:port)` };
  try {
    const conn = await Promise.race([
      Deno.connect({ hostname: m[1], port: Number(m[2]) }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timed out")), timeoutMs)),
    ]);
    conn.close();
    return { ok: true, detail: "reachable" };
  } catch (err) {
    return { ok: false, detail: err instanceof Error ? err.message.split("\n")[0] : String(err) };
  }
}

/** Computes the component table. */
export async function componentStatus(state: ServerState): Promise<Record<string, ComponentStatus>> {
  const out: Record<string, ComponentStatus> = {};
  if (state.bus) {
    const m = state.bus.metrics();
    const dlq = m.dlq?.total ?? 0;
    out.bus = dlq > 0
      ? { status: "warn", reason: `${state.bus.backend} bus running; ${dlq} dead letter(s): see /api/dlq` }
      : {
        status: "ok",
        reason: `${state.bus.backend} bus running, ${Object.keys(m.topics ?? {}).length} topic(s)`,
      };
  } else {
    out.bus = { status: "down", reason: "no bus in this process: start the server with 'dspy-code up'" };
  }
  try {
    const kv = await state.kv();
    await kv.get(["server", "ping"]);
    out.kv = { status: "ok", reason: `open at ${state.workspace}/.dspy/state.kv` };
  } catch (err) {
    out.kv = { status: "down", reason: `cannot read the workspace KV: ${String(err)}` };
  }
  try {
    const g = await checkGuard(state.workspace, { kv: await state.kv() });
    const short = [!g.disk_ok && "disk", !g.ram_ok && "RAM", !g.gpu_ok && "GPU"].filter(Boolean);
    out.guard = g.ok
      ? { status: "ok", reason: "resources above the guard thresholds" }
      : { status: "warn", reason: `heavy operations blocked: ${short.join(", ")} below threshold` };
  } catch (err) {
    out.guard = { status: "warn", reason: `cannot measure resources: ${String(err)}` };
  }
  Object.assign(out, await cachedProbes(state));
  return out;
}

const probeCache = new WeakMap<
  ServerState,
  { at: number; value: Promise<Record<string, ComponentStatus>> }
>();

function cachedProbes(state: ServerState): Promise<Record<string, ComponentStatus>> {
  const hit = probeCache.get(state);
  if (hit && Date.now() - hit.at < PROBE_CACHE_MS) return hit.value;
  const value = runProbes(state);
  probeCache.set(state, { at: Date.now(), value });
  return value;
}

async function runProbes(state: ServerState): Promise<Record<string, ComponentStatus>> {
  const out: Record<string, ComponentStatus> = {};
  const { ollamaUrl, kafkaBrokers, infermeshUrl } = state.probes;
  const jobs: Promise<void>[] = [];
  if (ollamaUrl) {
    jobs.push(
      probeHttp(new URL("/api/tags", ollamaUrl).href).then((r) => {
        out.ollama = r.ok ? { status: "ok", reason: `reachable at ${ollamaUrl}` } : {
          status: "warn",
          reason: `unreachable at ${ollamaUrl} (${r.detail}): run 'ollama serve' or use --base-url`,
        };
      }),
    );
  }
  if (kafkaBrokers) {
    const first = kafkaBrokers.split(",")[0];
    jobs.push(
      probeTcp(first).then((r) => {
        out.kafka = r.ok
          ? { status: "ok", reason: `broker ${first} reachable` }
          : { status: "down", reason: `broker ${first} unreachable (${r.detail})` };
      }),
    );
  }
  if (infermeshUrl) {
    jobs.push(
      probeHttp(new URL("/health", infermeshUrl).href).then((r) => {
        out.infermesh = r.ok
          ? { status: "ok", reason: `healthy at ${infermeshUrl}` }
          : { status: "down", reason: `unhealthy at ${infermeshUrl} (${r.detail})` };
      }),
    );
  }
  await Promise.all(jobs);
  return out;
}

/** The status route. */
export const statusRoutes: RouteModule = {
  name: "status",
  register(routes, state) {
    routes.get("/api/status", async (c) => {
      const components = await componentStatus(state);
      let worst: ComponentStatus["status"] = "ok";
      for (const comp of Object.values(components)) if (RANK[comp.status] > RANK[worst]) worst = comp.status;
      const notConfigured = [
        !state.probes.kafkaBrokers && "kafka",
        !state.probes.infermeshUrl && "infermesh",
      ].filter(Boolean);
      return c.json({
        status: worst,
        workspace: state.workspace,
        components,
        not_configured: notConfigured,
        ts: Date.now() / 1000,
      });
    });
  },
};
