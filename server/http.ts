/**
 * HTTP plumbing shared by the route modules: the {@link HttpError} every handler throws for a client error,
 * a size-limited JSON body reader, and query-parameter parsers that answer 400 with a message saying what
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

/**
 * Reads a request body as JSON, refusing bodies over `limit` bytes (413) and anything that is not valid
 * JSON (400). An empty body reads as `{}`.
 */
export async function readJsonBody(req: Request, limit: number): Promise<unknown> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    throw new HttpError(413, `request body too large: at most ${limit} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, `request body too large: at most ${limit} bytes`);
      }
      chunks.push(value);
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

/** Reads a JSON body and insists on an object. */
export async function readJsonObject(req: Request, limit: number): Promise<Record<string, unknown>> {
  const body = await readJsonBody(req, limit);
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
