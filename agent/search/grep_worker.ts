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
  type GrepWorkerReply,
  NEXT_BATCH,
  OTHERS_STARTED,
} from "./grep_core.ts";
import { FileSearcher } from "./grep_files.ts";
import { iterateFilesSync } from "./walk.ts";

/** The walker searches whenever more than this many batches wait unclaimed, so it never runs far ahead. */
const LEAD = 4;

let searcher: FileSearcher;
let shared: Int32Array;

// deno-lint-ignore no-explicit-any -- the worker global's type is not in the default lib set
const port = self as any;
const post = (reply: GrepWorkerReply) => port.postMessage(reply);

/** Searches one batch and posts its result. */
function searchBatch(id: number, files: string[]): void {
  const reply: GrepWorkerReply = { type: "result", id, matches: [], searched: 0 };
  for (const rel of files) if (searcher.searchFile(rel, reply.matches)) reply.searched++;
  post(reply);
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
    maxFileBytes: init.maxFileBytes,
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
  searcher = new FileSearcher(init.root, init.source, init.flags, init.context, init.maxFileBytes);
  shared = new Int32Array(init.shared);
  if (init.walk || init.files) walkAndSearch(init);
  else searchFromPort(init.ports[0]);
};
