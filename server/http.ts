/**
 * HTTP plumbing shared by the route modules: the {@link HttpError} every handler throws for a client error,
 * a size- and time-limited JSON body reader, and query-parameter parsers that answer 400 with a message saying what
 * to send instead.
 *
 * @module
 */

/** An error with an HTTP status; the app turns it into `{"error": message, ...extra}`. */
export class HttpError extends Error {
  /** HTTP status code. */
  readonly status: number;
  /** Extra JSON fields for the response body. */
  readonly extra: Record<string, unknown>;
  /** Extra response headers (e.g. `Allow`, `WWW-Authenticate`). */
  readonly headers: Record<string, string>;
  constructor(
    status: number,
    message: string,
    options: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = "HttpError";
    this.status = status;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

/** Default request body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** Default time a client has to send a whole request body: 10 s. */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/**
 * Reads a request body as JSON, refusing bodies over `limit` bytes (413), bodies that do not arrive
 * within `timeoutMs` (408), bodies that end before their `Content-Length` (400) and anything that is not
 * valid JSON (400). An empty body reads as `{}`.
 */
export async function readJsonBody(
  req: Request,
  limit: number,
  timeoutMs: number = DEFAULT_BODY_TIMEOUT_MS,
): Promise<unknown> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw new HttpError(413, `request body too large: at most ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
    try {
      while (true) {
        let step: ReadableStreamReadResult<Uint8Array> | "timeout";
        try {
          step = await Promise.race([reader.read(), deadline]);
        } catch {
          // The connection ended (or the framing broke) before the declared length arrived.
          throw new HttpError(
            400,
            declared !== null
              ? `request body ended before its Content-Length of ${declared} bytes: send the whole body`
              : "request body could not be read: send a complete JSON body",
          );
        }
        if (step === "timeout") {
          await reader.cancel().catch(() => {});
          throw new HttpError(
            408,
            `request body not received within ${timeoutMs / 1000} s` +
              (declared !== null ? ` (Content-Length ${declared}, got ${size} bytes)` : ""),
            { headers: { connection: "close" } },
          );
        }
        const { done, value } = step;
        if (done) break;
        size += value.byteLength;
        if (size > limit) {
          await reader.cancel().catch(() => {});
          throw new HttpError(413, `request body too large: at most ${limit} bytes`);
        }
        chunks.push(value);
      }
    } finally {
      clearTimeout(timer);
    }
  }
  const bytes = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "request body is not valid UTF-8: send a JSON object");
  }
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new HttpError(400, "request body is not valid JSON: send a JSON object");
  }
}

/** Reads a JSON body and insists on an object (see {@link readJsonBody}). */
export async function readJsonObject(
  req: Request,
  limit: number,
  timeoutMs: number = DEFAULT_BODY_TIMEOUT_MS,
): Promise<Record<string, unknown>> {
  const body = await readJsonBody(req, limit, timeoutMs);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

/**
 * Parses an integer query parameter within `[min, max]`; `undefined`/empty gives `fallback`. Anything else
 * answers 400 naming the parameter.
 */
export function intParam(
  name: string,
  raw: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new HttpError(
      400,
      `query parameter ${name} must be a whole number from ${min} to ${max}, got '${raw}'`,
    );
  }
  return n;
}

/** Parses a finite number query parameter; `undefined`/empty gives `undefined`. */
export function numberParam(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new HttpError(400, `query parameter ${name} must be a number, got '${raw}'`);
  return n;
}
