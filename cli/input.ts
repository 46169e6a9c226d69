/**
 * Line input for the session and for confirmations. In a terminal it uses `node:readline` (line editing,
 * history kept in `.dspy/history`); otherwise it reads stdin one line at a time, so a session is fully
 * scriptable through a pipe and confirmations can be answered by the next piped line.
 *
 * @module
 */

import { lazyImport } from "./lazy.ts";

/** A source of lines. `next` resolves to null at end of input (Ctrl-D, closed pipe). */
export interface LineSource {
  /** Shows `prompt` (terminal only) and reads one line. */
  next(prompt: string): Promise<string | null>;
  /** Releases the input. */
  close(): void;
  /**
   * Terminal only: `handler` is called when Ctrl-C is pressed while no line is being read (a command is
   * running), so the session can interrupt that command. `null` removes it.
   */
  onInterrupt?(handler: (() => void) | null): void;
}

/** Reads lines from a non-terminal stdin. */
export function pipeLineSource(stream: ReadableStream<Uint8Array> = Deno.stdin.readable): LineSource {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let ended = false;
  return {
    async next() {
      while (true) {
        const nl = buffer.indexOf("\n");
        if (nl >= 0) {
          const line = buffer.slice(0, nl).replace(/\r$/, "");
          buffer = buffer.slice(nl + 1);
          return line;
        }
        if (ended) {
          if (buffer.length === 0) return null;
          const last = buffer;
          buffer = "";
          return last;
        }
        const { value, done } = await reader.read();
        if (done) ended = true;
        else buffer += value;
      }
    },
    close() {
      reader.cancel().catch(() => {});
    },
  };
}

/** Reads lines from a terminal with editing and history. */
export async function terminalLineSource(historyFile?: string): Promise<LineSource> {
  // Computed specifiers keep Node compatibility out of the start-up module graph (see cli/lazy.ts).
  const readline = await lazyImport<typeof import("node:readline")>(new URL("node:readline"));
  const process =
    (await lazyImport<{ default: typeof import("node:process") }>(new URL("node:process"))).default;
  let history: string[] = [];
  if (historyFile) {
    try {
      history = (await Deno.readTextFile(historyFile)).split("\n").filter(Boolean).reverse().slice(0, 500);
    } catch { /* no history yet */ }
  }
  const rl = readline.createInterface({
    input: process.stdin,
    output: process.stdout,
    terminal: true,
    history,
    historySize: 500,
  });
  let closed = false;
  let asking = false;
  let interrupt: (() => void) | null = null;
  rl.on("close", () => closed = true);
  // Ctrl-C at the prompt discards the line being typed (as shells do) instead of pausing the input; while a
  // command runs (no line is being read) it goes to the session's interrupt handler.
  rl.on("SIGINT", () => {
    if (!asking) {
      process.stdout.write("^C\n");
      interrupt?.();
      return;
    }
    rl.write(null, { ctrl: true, name: "u" });
    process.stdout.write("^C\n");
    rl.prompt();
  });
  return {
    next(prompt) {
      if (closed) return Promise.resolve(null);
      asking = true;
      return new Promise((resolve) => {
        const onClose = () => {
          asking = false;
          resolve(null);
        };
        rl.once("close", onClose);
        rl.question(prompt, (answer: string) => {
          asking = false;
          rl.off("close", onClose);
          if (historyFile && answer.trim()) {
            Deno.writeTextFile(historyFile, answer + "\n", { append: true, create: true }).catch(() => {});
          }
          resolve(answer);
        });
      });
    },
    close() {
      if (!closed) rl.close();
    },
    onInterrupt(handler) {
      interrupt = handler;
    },
  };
}
