/**
 * Worker side of the parallel grep: receives the compiled pattern once, then batches of files, and answers
 * each batch with its matches. Running the regex in a worker lets the caller stop a pattern that backtracks
 * catastrophically (it terminates the worker) instead of hanging.
 *
 * @module
 */

import { type GrepJob, type GrepWorkerReply, searchText } from "./grep_core.ts";

interface InitMessage {
  type: "init";
  source: string;
  flags: string;
  context: number;
  maxFileBytes: number;
}

interface FilesMessage {
  type: "files";
  id: number;
  files: GrepJob[];
}

let lineRe: RegExp | null = null;
let fileRe: RegExp | null = null;
let context = 0;
let maxFileBytes = 1024 * 1024;

// deno-lint-ignore no-explicit-any -- the worker global's type is not in the default lib set
const port = self as any;

port.onmessage = (event: MessageEvent<InitMessage | FilesMessage>) => {
  const msg = event.data;
  if (msg.type === "init") {
    lineRe = new RegExp(msg.source, msg.flags);
    fileRe = new RegExp(msg.source, msg.flags + "m");
    context = msg.context;
    maxFileBytes = msg.maxFileBytes;
    return;
  }
  const reply: GrepWorkerReply = { type: "result", id: msg.id, matches: [], searched: 0 };
  for (const job of msg.files) {
    let text: string;
    try {
      // The walk does not stat (grep's walk stays cheap); a stat here keeps files over the limit — often
      // multi-megabyte bundles — from being read and decoded only to be dropped: on a bundle-heavy tree
      // they were a third of the bytes read.
      if (Deno.statSync(job.abs).size > maxFileBytes) continue;
      // One call that reads and decodes in native code; cheaper than open + read + TextDecoder per file.
      text = Deno.readTextFileSync(job.abs);
    } catch {
      continue;
    }
    // Binary: a NUL in the first 8 KiB.
    if (text.slice(0, 8192).includes("\0")) continue;
    reply.searched++;
    for (const m of searchText(text, job.rel, lineRe!, fileRe!, context)) reply.matches.push(m);
  }
  port.postMessage(reply);
};
