/**
 * LLM clients: Ollama (`GET /api/tags` probe, `POST /api/chat`) and OpenAI-compatible APIs
 * (`POST /v1/chat/completions`, `GET /v1/models`), behind one {@link LlmClient} with per-request timeouts,
 * retries with exponential backoff (network errors, timeouts, 429 and 5xx only), and a circuit breaker per
 * endpoint that opens after 3 consecutive failures and lets one trial call through after a cool-down. Every
 * failure is an {@link LlmError} whose message says what failed and what to do. Nothing here invents text:
 * when the model cannot be reached the caller gets an error, never a fallback answer.
 *
 * @module
 */

import { UserError } from "../../core/errors.ts";
import { sleep } from "../../core/sleep.ts";
import { describeConfig, type LlmConfig } from "./config.ts";

/** What went wrong talking to the LLM. */
export type LlmErrorKind =
  | "not-configured"
  | "unreachable"
  | "model-missing"
  | "timeout"
  | "http"
  | "auth"
  | "garbage"
  | "circuit-open";

/** An LLM call failed; the message names the endpoint, the cause and the fix. */
export class LlmError extends UserError {
  readonly kind: LlmErrorKind;
  /** HTTP status, when there was one. */
  readonly status?: number;
  constructor(kind: LlmErrorKind, message: string, status?: number) {
    super(message);
    this.name = "LlmError";
    this.kind = kind;
    this.status = status;
  }
}

/** One chat message. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** Options for one completion. */
export interface CompletionOptions {
  /** Ask for a JSON object (Ollama `format: "json"`, OpenAI `response_format`). */
  json?: boolean;
  temperature?: number;
  /** Most tokens to generate. */
  maxTokens?: number;
  signal?: AbortSignal;
}

/** Result of a completion. */
export interface Completion {
  text: string;
  model: string;
  /** Attempts it took (1 = first try). */
  attempts: number;
  durationMs: number;
}

/** Client tuning. */
export interface ClientOptions {
  /** Per-request timeout (default 60 s, `DSPY_LLM_TIMEOUT_MS`). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 2, `DSPY_LLM_RETRIES`). */
  retries?: number;
  /** First backoff delay; doubles each retry, with jitter (default 500 ms). */
  backoffMs?: number;
  /** Consecutive failures that open the breaker (default 3). */
  breakerThreshold?: number;
  /** How long the breaker stays open (default 30 s, `DSPY_LLM_COOLDOWN_MS`). */
  cooldownMs?: number;
}

/** A chat model endpoint. */
export interface LlmClient {
  readonly config: LlmConfig;
  /** `Ollama qwen3:1.7b at http://…`. */
  readonly label: string;
  complete(messages: ChatMessage[], options?: CompletionOptions): Promise<Completion>;
}

// ---------------------------------------------------------------------------------------------------------
// Circuit breaker, shared per endpoint within the process (a session keeps it across commands).

interface BreakerState {
  failures: number;
  openedAt?: number;
  lastError?: string;
}

const breakers = new Map<string, BreakerState>();

function breakerKey(config: LlmConfig): string {
  return `${config.provider} ${config.baseUrl} ${config.model}`;
}

/** Breaker status for an endpoint (for status displays and tests). */
export function breakerStatus(config: LlmConfig): { open: boolean; failures: number; lastError?: string } {
  const s = breakers.get(breakerKey(config));
  return { open: s?.openedAt !== undefined, failures: s?.failures ?? 0, lastError: s?.lastError };
}

/** Forgets every breaker (tests, `ollama on`). */
export function resetBreakers(): void {
  breakers.clear();
}

function envInt(name: string): number | undefined {
  const v = Deno.env.get(name);
  if (!v) return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

// ---------------------------------------------------------------------------------------------------------
// HTTP.

async function fetchWithTimeout(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Response> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new DOMException("timeout", "TimeoutError")), timeoutMs);
  const onAbort = () => ac.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    return await fetch(url, { ...init, signal: ac.signal });
  } catch (err) {
    if (signal?.aborted) throw new LlmError("timeout", "the LLM request was cancelled");
    if (ac.signal.aborted) {
      throw new LlmError(
        "timeout",
        `no answer from ${url} within ${timeoutMs / 1000}s; the model may be loading or too slow ` +
          "(raise DSPY_LLM_TIMEOUT_MS or use a smaller model)",
      );
    }
    throw new LlmError("unreachable", `cannot reach ${url}: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

async function readBody(res: Response, url: string): Promise<unknown> {
  const text = await res.text();
  if (!res.ok) {
    const snippet = text.slice(0, 200).replace(/\s+/g, " ");
    if (res.status === 401 || res.status === 403) {
      throw new LlmError(
        "auth",
        `${url} refused the API key (HTTP ${res.status}); check OPENAI_API_KEY or --api-key`,
        res.status,
      );
    }
    if (res.status === 404 && /model/i.test(text)) {
      throw new LlmError("model-missing", `${url}: model not found (HTTP 404: ${snippet})`, res.status);
    }
    throw new LlmError(
      "http",
      `${url} answered HTTP ${res.status}: ${snippet || res.statusText}`,
      res.status,
    );
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new LlmError(
      "garbage",
      `${url} returned a reply that is not JSON: ${text.slice(0, 120).replace(/\s+/g, " ")}`,
    );
  }
}

function extractText(config: LlmConfig, body: unknown, url: string): string {
  const b = body as Record<string, unknown>;
  let text: unknown;
  if (config.provider === "ollama") {
    text = (b?.message as Record<string, unknown> | undefined)?.content;
  } else {
    const choices = b?.choices as Record<string, unknown>[] | undefined;
    const first = Array.isArray(choices) ? choices[0] : undefined;
    text = (first?.message as Record<string, unknown> | undefined)?.content ?? first?.text;
  }
  if (typeof b?.error === "string" || typeof (b?.error as Record<string, unknown>)?.message === "string") {
    const msg = typeof b.error === "string" ? b.error : (b.error as Record<string, string>).message;
    throw new LlmError("http", `${url} reported an error: ${msg}`);
  }
  if (typeof text !== "string") {
    throw new LlmError(
      "garbage",
      `${url} replied without a message (expected ${
        config.provider === "ollama" ? "message.content" : "choices[0].message.content"
      })`,
    );
  }
  // Reasoning models (qwen3, deepseek-r1) may put their thinking in <think> tags: keep only the answer.
  return text.replace(/<think>[\s\S]*?<\/think>/g, "").trim();
}

function retryable(err: unknown): boolean {
  if (!(err instanceof LlmError)) return false;
  if (err.kind === "unreachable" || err.kind === "timeout" || err.kind === "garbage") return true;
  return err.kind === "http" && (err.status === undefined || err.status === 429 || err.status >= 500);
}

/**
 * Creates a client for a configuration. The breaker is shared with every other client of the same
 * endpoint in this process.
 *
 * @example
 * ```ts
 * const llm = createLlmClient({ provider: "ollama", model: "qwen3:1.7b", baseUrl: "http://localhost:11434" });
 * const { text } = await llm.complete([{ role: "user", content: "Say hi" }]);
 * ```
 */
export function createLlmClient(config: LlmConfig, options: ClientOptions = {}): LlmClient {
  const timeoutMs = options.timeoutMs ?? envInt("DSPY_LLM_TIMEOUT_MS") ?? 60_000;
  const retries = options.retries ?? envInt("DSPY_LLM_RETRIES") ?? 2;
  const backoffMs = options.backoffMs ?? 500;
  const threshold = options.breakerThreshold ?? 3;
  const cooldownMs = options.cooldownMs ?? envInt("DSPY_LLM_COOLDOWN_MS") ?? 30_000;
  const key = breakerKey(config);
  const label = describeConfig(config);
  const url = config.provider === "ollama"
    ? `${config.baseUrl}/api/chat`
    : `${config.baseUrl}/chat/completions`;

  async function once(messages: ChatMessage[], opts: CompletionOptions): Promise<string> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    let body: Record<string, unknown>;
    if (config.provider === "ollama") {
      body = {
        model: config.model,
        messages,
        stream: false,
        options: { temperature: opts.temperature ?? 0 },
      };
      if (opts.maxTokens) (body.options as Record<string, unknown>).num_predict = opts.maxTokens;
      if (opts.json) body.format = "json";
    } else {
      if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
      body = { model: config.model, messages, temperature: opts.temperature ?? 0, stream: false };
      if (opts.maxTokens) body.max_tokens = opts.maxTokens;
      if (opts.json) body.response_format = { type: "json_object" };
    }
    const res = await fetchWithTimeout(
      url,
      { method: "POST", headers, body: JSON.stringify(body) },
      timeoutMs,
      opts.signal,
    );
    return extractText(config, await readBody(res, url), url);
  }

  return {
    config,
    label,
    async complete(messages, opts = {}) {
      const state = breakers.get(key) ?? { failures: 0 };
      breakers.set(key, state);
      if (state.openedAt !== undefined) {
        const waited = Date.now() - state.openedAt;
        if (waited < cooldownMs) {
          throw new LlmError(
            "circuit-open",
            `LLM calls to ${label} are paused for ${Math.ceil((cooldownMs - waited) / 1000)}s after ` +
              `${state.failures} consecutive failures (last: ${state.lastError}); check the server, then retry`,
          );
        }
        // Half-open: this call is the trial; one more failure re-opens immediately.
      }
      const started = performance.now();
      let lastErr: unknown;
      for (let attempt = 0; attempt <= retries; attempt++) {
        if (attempt > 0) {
          await sleep(backoffMs * 2 ** (attempt - 1) * (1 + Math.random() * 0.25), opts.signal);
        }
        if (opts.signal?.aborted) break;
        try {
          const text = await once(messages, opts);
          state.failures = 0;
          state.openedAt = undefined;
          state.lastError = undefined;
          return {
            text,
            model: config.model,
            attempts: attempt + 1,
            durationMs: performance.now() - started,
          };
        } catch (err) {
          lastErr = err;
          if (!retryable(err) || state.openedAt !== undefined) break;
        }
      }
      state.failures++;
      state.lastError = (lastErr as Error)?.message ?? "cancelled";
      if (state.failures >= threshold) state.openedAt = Date.now();
      if (lastErr instanceof LlmError) {
        const suffix = state.openedAt !== undefined && state.failures === threshold
          ? ` (circuit breaker open: LLM calls pause for ${Math.round(cooldownMs / 1000)}s)`
          : "";
        throw new LlmError(lastErr.kind, `${lastErr.message}${suffix}`, lastErr.status);
      }
      throw lastErr ?? new LlmError("timeout", "the LLM request was cancelled");
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Probing.

/** What a probe found. */
export interface ProbeResult {
  ok: boolean;
  /** Models the server lists. */
  models: string[];
  /** The configured model as the server names it (e.g. `qwen3:1.7b` for `qwen3`). */
  resolvedModel?: string;
  /** Why it is not usable. */
  problem?: LlmErrorKind;
  message: string;
}

/** True when `wanted` names `available`: exact, `name` ≡ `name:latest`, or base name (`qwen3` ≈ `qwen3:1.7b`). */
export function modelMatches(wanted: string, available: string): boolean {
  if (wanted === available) return true;
  const [wBase, wTag] = wanted.split(":");
  const [aBase, aTag] = available.split(":");
  if (wBase !== aBase) return false;
  return wTag === undefined || (wTag === "latest" && aTag === undefined) ||
    (aTag === "latest" && wTag === undefined);
}

/**
 * Probes an endpoint with a short timeout: Ollama `GET /api/tags` (the model must be listed); OpenAI
 * `GET /models` (a 404 there is fine: many compatible servers do not implement it).
 */
export async function probeLlm(config: LlmConfig, timeoutMs = 1500): Promise<ProbeResult> {
  const url = config.provider === "ollama" ? `${config.baseUrl}/api/tags` : `${config.baseUrl}/models`;
  const headers: Record<string, string> = {};
  if (config.provider === "openai" && config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  let body: unknown;
  try {
    const res = await fetchWithTimeout(url, { headers }, timeoutMs);
    if (config.provider === "openai" && (res.status === 404 || res.status === 405)) {
      await res.body?.cancel();
      return {
        ok: true,
        models: [],
        resolvedModel: config.model,
        message: `${describeConfig(config)} (model list not offered)`,
      };
    }
    body = await readBody(res, url);
  } catch (err) {
    const e = err as LlmError;
    const what = config.provider === "ollama" ? "Ollama" : "the OpenAI-compatible API";
    const hint = config.provider === "ollama"
      ? "start it with 'ollama serve' (and 'ollama pull " + config.model +
        "'), set OLLAMA_HOST, or use --no-ollama with OPENAI_API_KEY"
      : "check OPENAI_BASE_URL / --base-url and OPENAI_API_KEY";
    return {
      ok: false,
      models: [],
      problem: e.kind ?? "unreachable",
      message: `${what} is not reachable at ${config.baseUrl} (${e.message}); ${hint}`,
    };
  }
  const list = config.provider === "ollama"
    ? (body as { models?: { name?: string; model?: string }[] })?.models
    : (body as { data?: { id?: string }[] })?.data;
  if (!Array.isArray(list)) {
    return {
      ok: false,
      models: [],
      problem: "garbage",
      message: `${url} did not return a model list; is this really ${
        config.provider === "ollama" ? "Ollama" : "an OpenAI-compatible API"
      }?`,
    };
  }
  const models = list
    .map((m) =>
      (m as Record<string, unknown>).name ?? (m as Record<string, unknown>).model ??
        (m as Record<string, unknown>).id
    )
    .filter((m): m is string => typeof m === "string");
  const resolved = models.find((m) => m === config.model) ??
    models.find((m) => modelMatches(config.model, m));
  if (config.provider === "ollama" && !resolved) {
    return {
      ok: false,
      models,
      problem: "model-missing",
      message: `Ollama at ${config.baseUrl} does not have model ${config.model}` +
        (models.length ? ` (it has: ${models.slice(0, 8).join(", ")})` : "") +
        `; run 'ollama pull ${config.model}' or choose one with 'model NAME' / --model`,
    };
  }
  return {
    ok: true,
    models,
    resolvedModel: resolved ?? config.model,
    message: `${describeConfig({ ...config, model: resolved ?? config.model })}`,
  };
}
