/**
 * Admin authorisation. When an admin key is configured (`ADMIN_KEY`), admin routes need the header
 * `X-Admin-Key` with exactly that key, compared in constant time (both sides are hashed first so even the
 * length does not leak): no header → 401, a wrong key → 403. When no key is configured, admin routes accept
 * only loopback clients (127.0.0.0/8, ::1) and answer 403 to anyone else.
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";
import { HttpError } from "./http.ts";

function digest(s: string): Uint8Array {
  return createHash("sha256").update(s, "utf8").digest();
}

/** Compares two secrets in constant time. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses. */
export function isLoopback(hostname: string | undefined): boolean {
  if (!hostname) return false;
  const h = hostname.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "::1" || h === "localhost") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * Throws the right {@link HttpError} unless the request may use admin routes.
 *
 * @param adminKey the configured key, or null when none is set
 * @param header the request's `X-Admin-Key` value
 * @param remoteHost the client's address
 */
export function checkAdmin(
  adminKey: string | null,
  header: string | undefined,
  remoteHost: string | undefined,
): void {
  if (adminKey) {
    if (header === undefined || header === "") {
      throw new HttpError(401, "admin key required: send the X-Admin-Key header", {
        headers: { "www-authenticate": 'X-Admin-Key realm="dspy-code"' },
      });
    }
    if (!safeEqual(header, adminKey)) {
      throw new HttpError(403, "admin key rejected: X-Admin-Key does not match");
    }
    return;
  }
  if (!isLoopback(remoteHost)) {
    throw new HttpError(403, "admin routes accept only loopback clients when ADMIN_KEY is not set");
  }
}
