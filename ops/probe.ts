/**
 * `dspy-code probe URL`: one HTTP GET with a timeout, success on a 2xx answer. Container health checks use
 * it (the images carry no curl), so every `HEALTHCHECK` and compose `healthcheck:` really asks the service.
 *
 * @module
 */

/** What one probe saw. */
export interface ProbeResult {
  /** True on a 2xx answer. */
  ok: boolean;
  /** HTTP status, or 0 when no answer came. */
  status: number;
  /** Milliseconds until the answer (or the failure). */
  ms: number;
  /** A short description: the status line, or why nothing answered. */
  detail: string;
}

/** Sends one GET to `url` and reports whether it answered 2xx within `timeoutMs`. */
export async function probeUrl(url: string, timeoutMs = 5000): Promise<ProbeResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
    await res.body?.cancel();
    return { ok: res.ok, status: res.status, ms: ms(), detail: `${res.status} ${res.statusText}`.trim() };
  } catch (err) {
    const timedOut = err instanceof DOMException && err.name === "TimeoutError";
    return {
      ok: false,
      status: 0,
      ms: ms(),
      detail: timedOut ? `no answer within ${timeoutMs} ms` : `unreachable: ${(err as Error).message}`,
    };
  }
}
