/**
 * Which LLM to talk to, derived from the global options (which the session's `ollama on|off` and
 * `model NAME` commands change) and the environment: Ollama first (`OLLAMA_HOST` or `--base-url`, default
 * `http://localhost:11434`), else any OpenAI-compatible API (`OPENAI_BASE_URL`, `OPENAI_API_KEY`,
 * `MODEL_NAME`). `LOCAL_MODE=true` turns the LLM off everywhere.
 *
 * @module
 */

/** The provider families. */
export type ProviderKind = "ollama" | "openai";

/** The LLM-relevant part of the global options. */
export interface LlmOptions {
  model: string;
  ollama: boolean;
  baseUrl?: string;
  apiKey?: string;
}

/** A resolved LLM configuration. */
export interface LlmConfig {
  provider: ProviderKind;
  model: string;
  /** Ollama: server root (no `/v1`); OpenAI: API base ending in `/v1` (or the given path). */
  baseUrl: string;
  apiKey?: string;
  /** The OpenAI-compatible fallback when Ollama is preferred but not reachable (explicitly configured only). */
  fallback?: LlmConfig;
}

/** Default Ollama address. */
export const DEFAULT_OLLAMA_URL = "http://localhost:11434";
/** Default OpenAI API base. */
export const DEFAULT_OPENAI_URL = "https://api.openai.com/v1";

/** True when `LOCAL_MODE` asks for no LLM at all. */
export function localMode(env: (name: string) => string | undefined = (n) => Deno.env.get(n)): boolean {
  return /^(1|true|yes|on)$/i.test((env("LOCAL_MODE") ?? "").trim());
}

/** Normalises `OLLAMA_HOST`-style values (`0.0.0.0:11434`, `host`, `http://h:p/`) to a URL root. */
export function normalizeOllamaUrl(value: string): string {
  let v = value.trim().replace(/\/+$/, "");
  if (!/^https?:\/\//i.test(v)) v = `http://${v}`;
  const url = new URL(v);
  if (url.hostname === "0.0.0.0") url.hostname = "127.0.0.1";
  if (!url.port && !/^https?:\/\/[^/]+:\d+/.test(v) && url.protocol === "http:") url.port = "11434";
  let s = url.toString().replace(/\/+$/, "");
  s = s.replace(/\/v1$/, "").replace(/\/api$/, "");
  return s;
}

/** Normalises an OpenAI-compatible base: `http://h:p` gains `/v1`; a trailing slash is dropped. */
export function normalizeOpenAiUrl(value: string): string {
  const v = value.trim().replace(/\/+$/, "");
  const url = new URL(v);
  if (url.pathname === "" || url.pathname === "/") return `${v}/v1`;
  return v.replace(/\/chat\/completions$/, "");
}

/**
 * The Ollama server root to use: `explicit` (a `--base-url`, a doctor option, the server's
 * `OLLAMA_BASE_URL`) when given, else `OLLAMA_HOST`, else {@link DEFAULT_OLLAMA_URL}, always through
 * {@link normalizeOllamaUrl}. The one place the agent, `doctor` and the status server get this address.
 *
 * @example
 * ```ts
 * resolveOllamaUrl(undefined, () => "0.0.0.0:11434"); // "http://127.0.0.1:11434"
 * ```
 */
export function resolveOllamaUrl(
  explicit?: string,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): string {
  const given = [explicit, env("OLLAMA_HOST")].find((v) => v !== undefined && v.trim() !== "");
  return normalizeOllamaUrl(given ?? DEFAULT_OLLAMA_URL);
}

/**
 * Resolves the LLM configuration, or null in `LOCAL_MODE`.
 *
 * With Ollama on, the server comes from `--base-url` (when given on the command line), else `OLLAMA_HOST`,
 * else the default. When `OPENAI_API_KEY` is set too, the OpenAI-compatible API is kept as the fallback.
 */
export function resolveLlmConfig(
  options: LlmOptions,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): LlmConfig | null {
  if (localMode(env)) return null;
  const envOpenAiBase = env("OPENAI_BASE_URL");
  const explicitBase = options.baseUrl && options.baseUrl !== envOpenAiBase ? options.baseUrl : undefined;
  const apiKey = options.apiKey ?? env("OPENAI_API_KEY");
  const openai = (model: string): LlmConfig => ({
    provider: "openai",
    model,
    baseUrl: normalizeOpenAiUrl(explicitBase ?? envOpenAiBase ?? DEFAULT_OPENAI_URL),
    apiKey,
  });
  if (!options.ollama) return openai(options.model);
  const config: LlmConfig = {
    provider: "ollama",
    model: options.model,
    baseUrl: resolveOllamaUrl(explicitBase, env),
  };
  if (apiKey && !explicitBase) config.fallback = openai(env("MODEL_NAME") ?? options.model);
  return config;
}

/** Human description: `Ollama qwen3:1.7b at http://localhost:11434`. */
export function describeConfig(config: LlmConfig): string {
  return `${
    config.provider === "ollama" ? "Ollama" : "OpenAI-compatible"
  } ${config.model} at ${config.baseUrl}`;
}

/** Where the LLM endpoint of {@link resolveLlmConfig} came from, for `config` and `doctor`. */
export type EndpointSource = "--base-url" | "OLLAMA_HOST" | "OPENAI_BASE_URL" | "default" | "LOCAL_MODE";

/**
 * The endpoint {@link resolveLlmConfig} would use and where it came from: the flag, an environment variable
 * or the default. In `LOCAL_MODE` there is none (`url` null).
 */
export function describeEndpoint(
  options: LlmOptions,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): { url: string | null; source: EndpointSource; provider: ProviderKind | null } {
  const config = resolveLlmConfig(options, env);
  if (!config) return { url: null, source: "LOCAL_MODE", provider: null };
  const envOpenAiBase = env("OPENAI_BASE_URL");
  const explicit = !!options.baseUrl && options.baseUrl !== envOpenAiBase;
  const source: EndpointSource = explicit
    ? "--base-url"
    : config.provider === "ollama"
    ? (env("OLLAMA_HOST") ? "OLLAMA_HOST" : "default")
    : (envOpenAiBase ? "OPENAI_BASE_URL" : "default");
  return { url: config.baseUrl, source, provider: config.provider };
}
