/**
 * Getting a usable LLM for a command: resolve the configuration from the current options (so the
 * session's `ollama on|off` and `model NAME` apply to every later call), probe it (cached briefly per
 * endpoint), fall back from Ollama to an explicitly configured OpenAI-compatible API, and otherwise fail
 * with a message that says what is missing and how to configure it (the no-LLM mode).
 *
 * @module
 */

import {
  breakerStatus,
  createLlmClient,
  type LlmClient,
  LlmError,
  probeLlm,
  type ProbeResult,
} from "./client.ts";
import { describeConfig, type LlmConfig, type LlmOptions, localMode, resolveLlmConfig } from "./config.ts";

const PROBE_TTL_MS = 20_000;
const probes = new Map<string, { at: number; result: Promise<ProbeResult> }>();

function probeKey(c: LlmConfig): string {
  return `${c.provider} ${c.baseUrl} ${c.model} ${c.apiKey ? "k" : ""}`;
}

/** Probes with a short-lived cache (a session does not re-probe on every command). */
export function cachedProbe(config: LlmConfig, timeoutMs = 1500): Promise<ProbeResult> {
  const key = probeKey(config);
  const hit = probes.get(key);
  if (hit && Date.now() - hit.at < PROBE_TTL_MS) return hit.result;
  const result = probeLlm(config, timeoutMs);
  probes.set(key, { at: Date.now(), result });
  return result;
}

/** Drops cached probes (after `ollama on|off`, `model`, or a failed call). */
export function forgetProbes(): void {
  probes.clear();
}

/** How to get an LLM, shown with every no-LLM message. */
export const CONFIGURE_HINT =
  "start Ollama ('ollama serve', then 'ollama pull qwen3:1.7b') or set OPENAI_API_KEY (and OPENAI_BASE_URL for a " +
  "compatible server) with --no-ollama; in the session use 'ollama on|off' and 'model NAME'";

/** The LLM state for status rows and `llm` output. */
export interface LlmAvailability {
  client?: LlmClient;
  config?: LlmConfig;
  /** One-line status: `Ollama qwen3:1.7b at …` or why there is none. */
  label: string;
  /** Why there is no LLM (absent when one is ready). */
  reason?: string;
  /** Set when the configured provider was not usable and the fallback answered: why the first one failed. */
  fallbackReason?: string;
}

/**
 * Finds a ready LLM for the options, or explains why there is none. Never throws. `env` reads the
 * environment (injectable for tests).
 */
export async function findLlm(
  options: LlmOptions,
  probeTimeoutMs = 1500,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): Promise<LlmAvailability> {
  if (localMode(env)) {
    return {
      label: "off (LOCAL_MODE=true)",
      reason: "LOCAL_MODE=true turns the LLM off (unset it to use Ollama or an OpenAI-compatible API)",
    };
  }
  const config = resolveLlmConfig(options, env);
  if (!config) return { label: "off", reason: "no LLM configured" };
  const tried: string[] = [];
  let short = "";
  for (const candidate of [config, config.fallback].filter((c): c is LlmConfig => !!c)) {
    if (candidate.provider === "openai" && !candidate.apiKey && /api\.openai\.com/.test(candidate.baseUrl)) {
      tried.push(
        "OPENAI_API_KEY is not set for the OpenAI API; set it (and OPENAI_BASE_URL for a compatible server) or use Ollama",
      );
      short ||= "OPENAI_API_KEY not set";
      continue;
    }
    const probe = await cachedProbe(candidate, probeTimeoutMs);
    if (probe.ok) {
      const resolved = { ...candidate, model: probe.resolvedModel ?? candidate.model, fallback: undefined };
      const breaker = breakerStatus(resolved);
      const client = createLlmClient(resolved);
      return {
        client,
        config: resolved,
        label: describeConfig(resolved) + (breaker.open ? " (paused: circuit breaker open)" : ""),
        ...(candidate !== config && tried.length ? { fallbackReason: tried.join("; ") } : {}),
      };
    }
    tried.push(probe.message);
    if (!short) {
      short = probe.problem === "model-missing"
        ? `${candidate.provider === "ollama" ? "Ollama" : "the API"} has no model ${candidate.model}`
        : `${
          candidate.provider === "ollama" ? "Ollama" : "OpenAI-compatible API"
        } not reachable at ${candidate.baseUrl}`;
    }
  }
  return {
    label: `disabled (${short || tried[0] || "no LLM"}; 'llm' explains)`,
    reason: tried.join("; "),
  };
}

/**
 * Returns a ready client or throws an {@link LlmError} (`not-configured`) naming the command, what is
 * missing and how to configure it.
 */
export async function requireLlm(options: LlmOptions, command: string): Promise<LlmClient> {
  const found = await findLlm(options);
  if (found.client) return found.client;
  throw new LlmError("not-configured", `${command} needs an LLM and none is available: ${found.reason}.`);
}
