/**
 * Worker side of the parallel index build: analyses batches of files (read, chunk, tokenize) and sends
 * back the chunks with their weighted terms.
 *
 * @module
 */

import { analyzeFileSync, type AnalyzeParams } from "./index_analyze.ts";

interface InitMessage {
  type: "init";
  chunkLines: number;
  maxFileBytes: number;
  params: AnalyzeParams;
}

interface FilesMessage {
  type: "files";
  id: number;
  files: { abs: string; rel: string }[];
}

let config: InitMessage | undefined;

// deno-lint-ignore no-explicit-any -- the worker global's type is not in the default lib set
const port = self as any;

port.onmessage = (event: MessageEvent<InitMessage | FilesMessage>) => {
  const msg = event.data;
  if (msg.type === "init") {
    config = msg;
    return;
  }
  const c = config!;
  const results = msg.files.map((f) => analyzeFileSync(f.abs, f.rel, c.maxFileBytes, c.chunkLines, c.params));
  port.postMessage({ id: msg.id, results });
};
