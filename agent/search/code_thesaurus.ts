/**
 * A small programming thesaurus: the words a newcomer uses to describe behaviour ("give up", "wait", "at
 * most") mapped to the words code uses for it (`timeout`, `sleep`/`backoff`, `max`). Code search misses a
 * file when the question and the identifiers say the same thing in different words; this bridges the common
 * cases without a model. The list is general programming vocabulary, written from how code is commonly named
 * across languages, not from any corpus or query set (it was written before it was measured; see
 * docs/search.md). Keys and values are matched after stemming; keys of two words match adjacent query words.
 *
 * @module
 */

import { stem } from "./tokenize.ts";

/** Behaviour word (or two-word phrase) → code words. */
const THESAURUS: Record<string, string[]> = {
  // Time and waiting
  "give up": ["timeout", "abort", "cancel", "deadline"],
  "too long": ["timeout", "deadline"],
  wait: ["await", "sleep", "delay", "backoff", "timeout"],
  pause: ["pause", "sleep", "delay", "suspend"],
  later: ["delay", "defer", "schedule", "queue"],
  periodic: ["interval", "timer", "tick", "heartbeat", "schedule"],
  periodically: ["interval", "timer", "tick", "heartbeat", "schedule"],
  regularly: ["interval", "timer", "tick", "schedule"],
  expire: ["ttl", "expiry", "expires", "stale", "timeout", "evict"],
  stale: ["stale", "expire", "ttl", "outdated", "refresh"],
  clock: ["time", "timestamp", "now", "date"],
  // Repetition and failure
  again: ["retry", "attempt", "repeat"],
  retry: ["retry", "attempt", "backoff"],
  repeat: ["retry", "loop", "repeat"],
  fail: ["error", "err", "exception", "fail", "failure", "throw", "raise"],
  failure: ["error", "err", "exception", "fail"],
  wrong: ["error", "invalid", "err"],
  broken: ["error", "invalid", "corrupt"],
  crash: ["panic", "exception", "fatal", "recover"],
  // Limits and sizes
  limit: ["max", "limit", "cap", "throttle", "quota"],
  "at most": ["max", "limit", "cap"],
  maximum: ["max", "limit"],
  minimum: ["min"],
  "how many": ["count", "num", "size", "len", "length"],
  "how big": ["size", "len", "length", "bytes"],
  size: ["size", "len", "length", "bytes"],
  // Identity and numbering
  number: ["id", "seq", "sequence", "counter", "count", "num"],
  identify: ["id", "key", "name"],
  unique: ["id", "uuid", "key", "unique"],
  // Lifecycle
  start: ["start", "init", "begin", "open", "run", "boot", "setup"],
  begin: ["start", "init", "begin"],
  stop: ["stop", "close", "shutdown", "end", "terminate", "dispose"],
  finish: ["end", "finish", "done", "complete", "close"],
  "shut down": ["shutdown", "close", "stop"],
  clean: ["cleanup", "close", "dispose", "clear", "reset"],
  // Data movement
  send: ["send", "write", "publish", "produce", "emit", "post"],
  receive: ["receive", "recv", "read", "consume", "fetch"],
  message: ["message", "msg", "record", "event"],
  remove: ["delete", "remove", "drop", "evict", "purge", "clear"],
  delete: ["delete", "remove", "drop", "del"],
  discard: ["drop", "discard", "ignore", "skip"],
  store: ["save", "store", "cache", "persist", "write", "set"],
  save: ["save", "store", "persist", "write"],
  remember: ["cache", "memo", "store", "save"],
  copy: ["copy", "clone", "dup", "duplicate"],
  combine: ["merge", "join", "concat", "combine", "assign"],
  merge: ["merge", "join", "combine"],
  split: ["split", "chunk", "partition", "batch", "slice"],
  group: ["group", "batch", "bucket", "partition"],
  together: ["batch", "group", "merge"],
  order: ["sort", "order", "compare", "cmp"],
  sort: ["sort", "order", "compare"],
  find: ["find", "lookup", "search", "get", "resolve", "match"],
  "look up": ["lookup", "find", "get", "resolve"],
  choose: ["select", "pick", "choose", "strategy", "balance"],
  pick: ["select", "pick", "choose"],
  // Checking and converting
  check: ["check", "validate", "verify", "assert", "ensure"],
  verify: ["verify", "validate", "check"],
  validate: ["validate", "verify", "check"],
  convert: ["convert", "parse", "encode", "decode", "serialize", "marshal", "format"],
  "turn into": ["convert", "parse", "encode", "decode", "to"],
  parse: ["parse", "decode", "unmarshal", "read"],
  encode: ["encode", "serialize", "marshal", "write"],
  decode: ["decode", "parse", "deserialize", "unmarshal", "read"],
  escape: ["escape", "quote", "sanitize", "encode"],
  compress: ["compress", "compression", "gzip", "zlib", "deflate", "codec"],
  // Configuration and logging
  setting: ["config", "option", "setting", "param", "conf"],
  option: ["option", "opt", "config", "param"],
  default: ["default", "fallback", "defaults"],
  environment: ["env", "environ", "getenv"],
  log: ["log", "logger", "debug", "warn", "info"],
  print: ["print", "log", "format", "write"],
  // Networking and HTTP
  connect: ["connect", "connection", "conn", "socket", "dial"],
  disconnect: ["disconnect", "close", "destroy"],
  address: ["addr", "address", "ip", "host"],
  reuse: ["pool", "reuse", "keepalive", "cache"],
  answer: ["response", "resp", "reply", "res"],
  reply: ["response", "reply", "resp"],
  respond: ["response", "write", "reply"],
  secure: ["tls", "ssl", "https", "crypto", "cert"],
  encrypt: ["tls", "ssl", "crypto", "encrypt", "cipher"],
  certificate: ["cert", "tls", "ssl", "x509", "verify"],
  password: ["password", "auth", "credential", "basic", "secret"],
  login: ["auth", "login", "credential", "sasl", "authenticate"],
  credentials: ["credential", "auth", "password", "token", "sasl"],
  upload: ["upload", "multipart", "file", "form"],
  page: ["html", "template", "render"],
  // Concurrency
  concurrent: ["concurrent", "parallel", "inflight", "pool", "semaphore", "worker"],
  "in flight": ["inflight", "pending", "outstanding", "queue"],
  "at once": ["concurrent", "parallel", "batch", "inflight"],
  parallel: ["parallel", "concurrent", "worker", "pool"],
  lock: ["lock", "mutex", "sync", "atomic"],
  queue: ["queue", "enqueue", "pending", "buffer"],
  // Events
  notify: ["emit", "event", "listener", "callback", "notify", "on"],
  callback: ["callback", "hook", "listener", "handler", "on"],
  listen: ["listen", "listener", "on", "subscribe", "serve"],
  subscribe: ["subscribe", "listen", "topic", "on"],
  random: ["random", "rand", "jitter", "shuffle"],
  alive: ["health", "heartbeat", "ping", "alive", "keepalive"],
  leader: ["leader", "coordinator", "controller", "master"],
  position: ["offset", "position", "cursor", "seek", "index"],
  acknowledge: ["ack", "commit", "acknowledge"],
};

let compiled: Map<string, string[]> | undefined;

function table(): Map<string, string[]> {
  if (compiled) return compiled;
  compiled = new Map();
  for (const [key, values] of Object.entries(THESAURUS)) {
    const k = key.split(" ").map(stem).join(" ");
    const vs = new Set([...(compiled.get(k) ?? []), ...values.map(stem)]);
    compiled.set(k, [...vs]);
  }
  return compiled;
}

/**
 * The code words a descriptive query implies, stemmed, without the query's own terms: for each word (and
 * each pair of adjacent words) of the query that the thesaurus knows.
 *
 * @example
 * ```ts
 * synonymTerms("give up when the broker takes too long"); // ["timeout", "abort", "cancel", "deadlin", ...]
 * ```
 */
export function synonymTerms(query: string, queryTerms: Iterable<string> = []): string[] {
  const words = query.toLowerCase().split(/[^a-z]+/).filter(Boolean).map(stem);
  const seen = new Set(queryTerms);
  const out: string[] = [];
  const add = (key: string) => {
    for (const v of table().get(key) ?? []) {
      if (!seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
    }
  };
  for (let i = 0; i < words.length; i++) {
    add(words[i]);
    if (i + 1 < words.length) add(`${words[i]} ${words[i + 1]}`);
  }
  return out;
}
