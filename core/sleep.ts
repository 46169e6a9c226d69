/**
 * Abortable sleep: the one timer-based wait used by retry loops (the LLM client's backoff) and pollers
 * (the server's event hub). It never rejects: an abort ends the wait early and the caller checks its
 * signal.
 *
 * @module
 */

/**
 * Waits `ms` milliseconds, or less when `signal` aborts (immediately if it already has). The timer and the
 * abort listener are both released when the wait ends, so a long-lived signal collects no listeners.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * await sleep(1000, stop.signal); // returns after 1 s, or as soon as stop.abort() runs
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
