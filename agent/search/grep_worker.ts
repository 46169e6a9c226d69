/**
 * Worker side of the parallel grep (see {@link GrepInit} for the protocol). The first worker walks the tree
 * and searches; the others only search. Batches are claimed from a shared counter, so whichever worker is
 * free takes the next one. Running the regex in workers lets the caller stop a pattern that backtracks
 * catastrophically (it terminates the workers) instead of hanging; the walk runs here too, so the main
 * thread is free while it starts the other workers (constructing a `Worker` blocks the calling thread).
 *
 * @module
 */

import {
  BATCH_FILES,
  type GrepBatch,
  type GrepInit,
  type GrepMatch,
  type GrepWorkerReply,
  NEXT_BATCH,
  OTHERS_STARTED,
  searchText,
} from "./grep_core.ts";
import { iterateFilesSync } from "./walk.ts";

/** The walker searches whenever more than this many batches wait unclaimed, so it never runs far ahead. */
const LEAD = 4;

let root = "";
let lineRe: RegExp;
let fileRe: RegExp;
let context = 0;
let maxFileBytes = 1024 * 1024;
let shared: Int32Array;
/** One buffer for every file, read with one `read` call (see {@link readSmallFile}). */
let buffer = new Uint8Array(0);
const decoder = new TextDecoder();
/** For the pieces after the first: a byte-order mark there is text, not a mark. */
const decoderKeepingBom = new TextDecoder("utf-8", { ignoreBOM: true });
/**
 * Without context lines, a file bigger than this is decoded and searched in pieces of about this size cut
 * right after a newline. Strings this small live in V8's young generation, whose pages are reused; a string
 * per whole file put every big file (half the bytes of the bundle tree are in files of 128 KiB-1 MiB) into
 * freshly mapped memory: ~12 000 page faults and ~30% more CPU for the tree.
 */
const PIECE = 64 * 1024;

// deno-lint-ignore no-explicit-any -- the worker global's type is not in the default lib set
const port = self as any;
const post = (reply: GrepWorkerReply) => port.postMessage(reply);

/**
 * Reads a file into the shared buffer and returns its length, or -1 when it is over the size limit or
 * unreadable. Three system calls (open, one read, close) for a file that fits: a regular file's `read`
 * comes back short only at its end, and the buffer holds up to the limit plus one byte, so a read that fills
 * it means the file is over the limit (with a limit above 1 MiB the buffer grows as needed). The walk yields
 * regular files only. `statSync` + `readTextFileSync` made seven calls per file (stat, open, fstat, seek, two
 * reads, close) and allocated a new buffer each time; on the 19 k-file bundle tree that took 1.5-2× as long.
 */
function readSmallFile(abs: string): number {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(abs);
  } catch {
    return -1;
  }
  try {
    let n = 0;
    while (true) {
      const got = file.readSync(n === 0 ? buffer : buffer.subarray(n));
      if (!got) return n;
      n += got;
      if (n < buffer.length) return n;
      if (buffer.length > maxFileBytes) return -1;
      const bigger = new Uint8Array(Math.min(maxFileBytes + 1, buffer.length * 2));
      bigger.set(buffer);
      buffer = bigger;
    }
  } catch {
    return -1;
  } finally {
    file.close();
  }
}

/** Searches one batch and posts its result. */
function searchBatch(id: number, files: string[]): void {
  const reply: GrepWorkerReply = { type: "result", id, matches: [], searched: 0 };
  for (const rel of files) {
    const n = readSmallFile(`${root}/${rel}`);
    if (n < 0) continue;
    // Binary: a NUL byte in the first 8 KiB.
    if (buffer.subarray(0, Math.min(n, 8192)).indexOf(0) !== -1) continue;
    reply.searched++;
    searchBytes(buffer.subarray(0, n), rel, reply.matches);
  }
  post(reply);
}

/** Decodes and searches one file's bytes (whole, or piece by piece; see {@link PIECE}). */
function searchBytes(bytes: Uint8Array, rel: string, out: GrepMatch[]): void {
  if (context > 0 || bytes.length <= PIECE) {
    for (const m of searchText(decoder.decode(bytes), rel, lineRe, fileRe, context)) out.push(m);
    return;
  }
  let start = 0;
  let linesBefore = 0; // newlines in bytes[0, counted)
  let counted = 0;
  while (start < bytes.length) {
    // A newline byte is never part of a multi-byte UTF-8 sequence, so each piece decodes on its own.
    const newline = bytes.indexOf(10, start + PIECE - 1);
    const end = newline === -1 ? bytes.length : newline + 1;
    const text = (start === 0 ? decoder : decoderKeepingBom).decode(bytes.subarray(start, end));
    const found = searchText(text, rel, lineRe, fileRe, 0);
    if (found.length > 0) {
      // Line numbers: count the newlines before this piece (only when it matched).
      while (true) {
        const nl = bytes.indexOf(10, counted);
        if (nl === -1 || nl >= start) break;
        linesBefore++;
        counted = nl + 1;
      }
      for (const m of found) {
        m.line += linesBefore;
        out.push(m);
      }
    }
    start = end;
  }
}

/** Claims the batch `id` if it is still the next one; false when another worker took it first. */
function claim(id: number): boolean {
  return Atomics.compareExchange(shared, NEXT_BATCH, id, id + 1) === id;
}

/** The walker: walks, hands out batches, and searches whenever enough of them wait. */
function walkAndSearch(init: GrepInit): void {
  const others = init.ports;
  const batches: (string[] | undefined)[] = [];
  let sharing = 0; // ports that lead to a started worker; each has been sent every unclaimed batch
  /** A worker has just started: it gets every batch nobody has claimed yet. */
  const share = () => {
    const started = Atomics.load(shared, OTHERS_STARTED);
    for (; sharing < started; sharing++) {
      for (let id = Atomics.load(shared, NEXT_BATCH); id < batches.length; id++) {
        const files = batches[id];
        if (files) others[sharing].postMessage({ id, files } satisfies GrepBatch);
      }
    }
  };
  /** Searches unclaimed batches until at most `lead` are left for the others. */
  const searchWhileMoreThan = (lead: number) => {
    while (true) {
      share();
      const id = Atomics.load(shared, NEXT_BATCH);
      if (batches.length - id <= lead) return;
      if (!claim(id)) continue;
      const files = batches[id]!;
      batches[id] = undefined;
      searchBatch(id, files);
    }
  };
  const emit = (files: string[]) => {
    share();
    const id = batches.length;
    batches.push(files);
    const batch: GrepBatch = { id, files };
    for (let i = 0; i < sharing; i++) others[i].postMessage(batch);
    searchWhileMoreThan(LEAD);
  };

  let batch: string[] = [];
  const found = init.files ?? iterateRels(init);
  for (const rel of found) {
    batch.push(rel);
    if (batch.length === BATCH_FILES) {
      emit(batch);
      batch = [];
    }
  }
  if (batch.length > 0) emit(batch);
  post({ type: "walked", batches: batches.length });
  searchWhileMoreThan(0);
}

function* iterateRels(init: GrepInit): Generator<string> {
  const walk = iterateFilesSync(init.root, {
    globs: init.walk?.globs,
    excludes: init.walk?.excludes,
    maxFileBytes,
    stat: false,
  });
  for (const f of walk) yield f.rel;
}

/** Another worker: keeps the batches the walker sends, and searches each one it can claim. */
function searchFromPort(from: MessagePort): void {
  const waiting = new Map<number, string[]>();
  from.onmessage = (event: MessageEvent<GrepBatch>) => {
    const { id, files } = event.data;
    waiting.set(id, files);
    while (true) {
      const id = Atomics.load(shared, NEXT_BATCH);
      const files = waiting.get(id);
      if (files === undefined) break; // not here yet (or taken by the walker and already dropped)
      waiting.delete(id);
      if (claim(id)) searchBatch(id, files);
    }
    // Batches the walker claimed meanwhile are never searched here.
    const done = Atomics.load(shared, NEXT_BATCH);
    for (const id of waiting.keys()) if (id < done) waiting.delete(id);
  };
}

port.onmessage = (event: MessageEvent<GrepInit>) => {
  const init = event.data;
  root = init.root;
  lineRe = new RegExp(init.source, init.flags);
  fileRe = new RegExp(init.source, init.flags + "m");
  context = init.context;
  maxFileBytes = init.maxFileBytes;
  buffer = new Uint8Array(Math.min(maxFileBytes, 1024 * 1024) + 1);
  shared = new Int32Array(init.shared);
  if (init.walk || init.files) walkAndSearch(init);
  else searchFromPort(init.ports[0]);
};
