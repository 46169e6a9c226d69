/**
 * The LLM sub-package's face: which provider and address to use (Ollama or an OpenAI-compatible API,
 * resolved from flags and the environment), the HTTP client with retries and a per-endpoint circuit
 * breaker, and the availability probe. It has no npm dependencies, so the status server and `doctor` can
 * import it without loading the rest of `agent/`; `agent/mod.ts` re-exports it.
 *
 * @module
 */

export {
  breakerStatus,
  type ChatMessage,
  type ClientOptions,
  type Completion,
  type CompletionOptions,
  createLlmClient,
  type LlmClient,
  LlmError,
  type LlmErrorKind,
  modelMatches,
  probeLlm,
  type ProbeResult,
  resetBreakers,
} from "./client.ts";
export {
  DEFAULT_OLLAMA_URL,
  DEFAULT_OPENAI_URL,
  describeConfig,
  describeEndpoint,
  type EndpointSource,
  type LlmConfig,
  type LlmOptions,
  localMode,
  normalizeOllamaUrl,
  normalizeOpenAiUrl,
  type ProviderKind,
  resolveLlmConfig,
  resolveOllamaUrl,
} from "./config.ts";
export { CONFIGURE_HINT, findLlm, forgetProbes, type LlmAvailability, requireLlm } from "./resolve.ts";
