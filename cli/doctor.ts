/**
 * `doctor`: checks what dspy-code needs on this machine — Deno version, a writable workspace, KV opening,
 * git, Ollama reachability, free disk and whether the status port is free — and reports each as ok/warn/fail
 * with a hint. `doctor --repair` moves a damaged `.dspy/state.kv` aside and starts a fresh one.
 *
 * @module
 */

import { join } from "../core/path.ts";
import { errorMessage } from "../core/errors.ts";
import { diskUsage } from "../core/guard.ts";
import { closeAllKv, openWorkspaceKv } from "../core/kv.ts";
import { explainKvError, KvCorruptError, moveKvAside } from "../core/kv_health.ts";
import { workspacePaths } from "../core/workspace.ts";
import { resolveOllamaUrl } from "../agent/llm/mod.ts";

/** One check's outcome. */
export interface DoctorCheck {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
}

async function check(name: string, fn: () => Promise<Omit<DoctorCheck, "name">>): Promise<DoctorCheck> {
  try {
    return { name, ...await fn() };
  } catch (err) {
    return { name, status: "fail", detail: errorMessage(err) };
  }
}

/** Opens the workspace's KV and writes, reads and deletes a probe key (a damaged page fails here). */
async function probeKv(workspace: string): Promise<void> {
  const kv = await openWorkspaceKv(workspace);
  await kv.set(["doctor", "probe"], Date.now());
  for await (const _ of kv.list({ prefix: [] }, { limit: 100_000 })) { /* reads every page once */ }
  await kv.delete(["doctor", "probe"]);
}

/**
 * Runs every check. `ollamaUrl` defaults to `OLLAMA_HOST` or http://localhost:11434, normalised exactly as
 * the agent does ({@link resolveOllamaUrl}), so doctor probes the address the agent will use. With `repair`,
 * a damaged `.dspy/state.kv` is moved aside to `.dspy/state.kv.corrupt-<ts>` and a fresh one is started.
 */
export async function runDoctor(
  workspace: string,
  options: { ollamaUrl?: string; port?: number; repair?: boolean } = {},
): Promise<DoctorCheck[]> {
  const ollama = resolveOllamaUrl(options.ollamaUrl);
  const port = options.port ?? 8765;
  return await Promise.all([
    check("deno", () => {
      const [major, minor] = Deno.version.deno.split(".").map(Number);
      const ok = major > 2 || (major === 2 && minor >= 1);
      return Promise.resolve({
        status: ok ? "ok" : "warn",
        detail: `Deno ${Deno.version.deno}${ok ? "" : " (2.1 or newer is recommended)"}`,
      });
    }),
    check("workspace writable", async () => {
      const probe = join(workspacePaths(workspace).stateDir, `.doctor-${crypto.randomUUID()}`);
      await Deno.mkdir(workspacePaths(workspace).stateDir, { recursive: true });
      await Deno.writeTextFile(probe, "ok");
      await Deno.remove(probe);
      return { status: "ok", detail: workspace };
    }),
    check("kv", async () => {
      try {
        await probeKv(workspace);
        return { status: "ok", detail: workspacePaths(workspace).kvFile };
      } catch (caught) {
        const err = explainKvError(caught, workspace);
        if (!(err instanceof KvCorruptError)) throw err;
        if (!options.repair) return { status: "fail", detail: err.message };
        // Move the damaged file aside and start fresh (no handle is open: the open itself failed).
        await closeAllKv();
        const moved = await moveKvAside(workspace);
        await probeKv(workspace);
        return {
          status: "warn",
          detail: `repaired: the damaged database was moved to ${moved[0] ?? "(nothing to move)"}; ` +
            `${workspacePaths(workspace).kvFile} starts empty`,
        };
      }
    }),
    check("git", async () => {
      const out = await new Deno.Command("git", { args: ["--version"], stdout: "piped", stderr: "null" })
        .output();
      return { status: "ok", detail: new TextDecoder().decode(out.stdout).trim() };
    }).then((c) =>
      c.status === "fail"
        ? { ...c, status: "warn" as const, detail: "git not found: git helpers disabled" }
        : c
    ),
    check("ollama", async () => {
      try {
        const res = await fetch(`${ollama}/api/tags`, { signal: AbortSignal.timeout(1000) });
        if (!res.ok) {
          await res.body?.cancel();
          return { status: "warn", detail: `${ollama} answered HTTP ${res.status}` };
        }
        const body = await res.json() as { models?: { name: string }[] };
        const names = (body.models ?? []).map((m) => m.name);
        return {
          status: "ok",
          detail: `${ollama}: ${names.length} model(s) ${names.slice(0, 5).join(", ")}`,
        };
      } catch (err) {
        return {
          status: "warn",
          detail:
            `${ollama} not reachable (${
              errorMessage(err)
            }); no-LLM mode. Start Ollama ('ollama serve') or set OLLAMA_HOST, or use --no-ollama with ` +
            `OPENAI_API_KEY (and OPENAI_BASE_URL for a compatible server)`,
        };
      }
    }),
    check("disk", async () => {
      let gb: number;
      try {
        gb = (await diskUsage(workspace)).free_gb;
      } catch (err) {
        return { status: "warn", detail: `could not read free disk space: ${errorMessage(err)}` };
      }
      return { status: gb < 1 ? "warn" : "ok", detail: `${gb.toFixed(1)} GB free` };
    }),
    check(`port ${port}`, () => {
      try {
        const listener = Deno.listen({ hostname: "127.0.0.1", port });
        listener.close();
        return Promise.resolve({ status: "ok", detail: `127.0.0.1:${port} is free for 'dspy-code up'` });
      } catch {
        return Promise.resolve({
          status: "warn",
          detail: `127.0.0.1:${port} is in use: run 'dspy-code up --port N' with another port`,
        });
      }
    }),
  ]);
}

/** What {@link checkOpenAiCompatible} probes: the resolved OpenAI-compatible endpoint. */
export interface OpenAiEndpoint {
  /** API base ending in `/v1` (or the given path). */
  baseUrl: string;
  apiKey?: string;
  model: string;
}

/**
 * Checks an OpenAI-compatible endpoint (`--no-ollama` with `--base-url`/`OPENAI_BASE_URL`): `GET /models`
 * with the key, reporting whether it answers, accepts the key and lists the model.
 */
export function checkOpenAiCompatible(endpoint: OpenAiEndpoint, timeoutMs = 2000): Promise<DoctorCheck> {
  const { baseUrl, apiKey, model } = endpoint;
  return check("openai-compatible", async () => {
    let res: Response;
    try {
      res = await fetch(`${baseUrl}/models`, {
        headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      return {
        status: "warn",
        detail: `${baseUrl} not reachable (${errorMessage(err)}); no-LLM mode. Check --base-url or ` +
          `OPENAI_BASE_URL, or start the server`,
      };
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      return {
        status: "warn",
        detail: `${baseUrl} refused the API key (HTTP ${res.status}): check --api-key or OPENAI_API_KEY`,
      };
    }
    if (!res.ok) {
      await res.body?.cancel();
      return { status: "warn", detail: `${baseUrl} answered HTTP ${res.status} to GET /models` };
    }
    const body = await res.json().catch(() => ({})) as { data?: { id?: string }[] };
    const ids = (body.data ?? []).map((m) => m.id).filter((id): id is string => typeof id === "string");
    const listed = ids.length === 0
      ? ""
      : ids.includes(model)
      ? `; ${model} is listed`
      : `; ${model} is not listed`;
    return {
      status: "ok",
      detail: `${baseUrl}: answers${
        apiKey ? " with the key" : " (no API key set)"
      }, ${ids.length} model(s)${listed}`,
    };
  });
}
