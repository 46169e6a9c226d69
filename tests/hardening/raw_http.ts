/**
 * A raw HTTP/1.1 client for the hardening tests: sends exactly the bytes given (any Host, any
 * Content-Length, half a body) over a real TCP connection and reports what came back — a status line, a
 * dropped connection (closed with no response) or a timeout. The fuzzers count the last two as failures, so
 * a server that hangs or crashes on a hostile request cannot pass.
 *
 * @module
 */

/** What one raw request got. */
export type RawOutcome =
  | { kind: "response"; status: number; head: string; body: string }
  | { kind: "dropped"; detail: string }
  | { kind: "timeout" };

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Builds a request with `Connection: close` (so the response ends with the connection). */
export function buildRequest(
  method: string,
  target: string,
  headers: Record<string, string>,
  body = "",
): string {
  const lines = [`${method} ${target} HTTP/1.1`];
  const h = { connection: "close", ...headers };
  for (const [k, v] of Object.entries(h)) lines.push(`${k}: ${v}`);
  return lines.join("\r\n") + "\r\n\r\n" + body;
}

/**
 * Sends `request` to 127.0.0.1:`port` and reads until the server closes the connection, a complete
 * response (by its Content-Length) has arrived, or `timeoutMs` passes.
 */
export async function rawRequest(
  port: number,
  request: string | Uint8Array,
  options: { timeoutMs?: number; closeWrite?: boolean } = {},
): Promise<RawOutcome> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timeoutMs = options.timeoutMs ?? 5000;
  const isHead = typeof request === "string" ? request.startsWith("HEAD ") : false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await conn.write(typeof request === "string" ? enc.encode(request) : request);
    if (options.closeWrite) await conn.closeWrite();
    const chunks: Uint8Array[] = [];
    let total = 0;
    const deadline = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
    while (true) {
      const buf = new Uint8Array(16384);
      const n = await Promise.race([conn.read(buf).catch((e) => e as Error), deadline]);
      if (n === "timeout") return { kind: "timeout" };
      if (n instanceof Error) {
        if (total > 0) break;
        return { kind: "dropped", detail: n.message };
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
      total += n;
      const text = dec.decode(concat(chunks));
      const end = text.indexOf("\r\n\r\n");
      if (end !== -1) {
        if (isHead || /^HTTP\/1\.[01] (204|304)/.test(text)) break; // no body follows
        const len = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end));
        if (len && enc.encode(text.slice(end + 4)).byteLength >= Number(len[1])) break;
      }
    }
    const text = dec.decode(concat(chunks));
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
    if (!m) {
      return { kind: "dropped", detail: total ? `no status line: ${text.slice(0, 80)}` : "closed empty" };
    }
    const end = text.indexOf("\r\n\r\n");
    return {
      kind: "response",
      status: Number(m[1]),
      head: text.slice(0, end === -1 ? text.length : end),
      body: end === -1 ? "" : text.slice(end + 4),
    };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
