/**
 * The session in a real terminal: util-linux `script` gives the CLI a pseudo-terminal, so readline's raw mode
 * and Ctrl-C handling run as they do for a user. Skipped where `script` is not installed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAIN_TS, tempWorkspace } from "../support/cli.ts";

/** True when `command args` runs and succeeds here (a tool the test needs is installed). */
function runs(command: string, ...args: string[]): boolean {
  try {
    return new Deno.Command(command, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

const hasScript = () => runs("script", "--version");

Deno.test({
  name: "in a terminal, Ctrl-C interrupts the running command (tail --follow), not the session",
  ignore: !hasScript(),
  async fn() {
    const ws = await tempWorkspace();
    const cmd = `'${Deno.execPath()}' run -A '${MAIN_TS}' --workspace '${ws}' --plain`;
    const child = new Deno.Command("script", {
      args: ["-qfec", cmd, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", TERM: "dumb" },
    }).spawn();
    const writer = child.stdin.getWriter();
    let text = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const reading = (async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    })();
    const waitFor = async (needle: string, from = 0) => {
      const deadline = Date.now() + 20_000;
      while (text.indexOf(needle, from) < 0) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for '${needle}' in:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return text.indexOf(needle, from) + needle.length;
    };
    const send = (s: string) => writer.write(new TextEncoder().encode(s));
    try {
      let at = await waitFor("dspy-code> ");
      await send("tail agent.metrics --follow\r");
      at = await waitFor("tail agent.metrics --follow", at);
      await new Promise((r) => setTimeout(r, 800));
      await send("\x03");
      at = await waitFor("interrupting the command", at);
      at = await waitFor("dspy-code> ", at);
      await send("ws\r");
      at = await waitFor(ws, at);
      await send("\x04");
      await waitFor("bye", at);
      const status = await child.status;
      assert.equal(status.code, 0, text);
    } finally {
      await writer.close().catch(() => {});
      try {
        child.kill();
      } catch { /* already exited */ }
      await child.status;
      await reading;
      await child.stderr.cancel();
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "in a terminal, session lines take --json, `clear` clears the screen and `x && ws` goes to the router",
  ignore: !hasScript(),
  async fn() {
    const ws = await tempWorkspace();
    await Deno.mkdir(`${ws}/src`);
    await Deno.writeTextFile(`${ws}/src/app.py`, "# TODO one\n");
    const cmd = `'${Deno.execPath()}' run -A '${MAIN_TS}' --workspace '${ws}' --plain`;
    const child = new Deno.Command("script", {
      args: ["-qfec", cmd, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", TERM: "dumb" },
    }).spawn();
    const writer = child.stdin.getWriter();
    let text = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const reading = (async () => {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
    })();
    const waitFor = async (needle: string, from = 0) => {
      const deadline = Date.now() + 20_000;
      while (text.indexOf(needle, from) < 0) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for '${needle}' in:\n${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return text.indexOf(needle, from) + needle.length;
    };
    const send = (s: string) => writer.write(new TextEncoder().encode(s));
    try {
      let at = await waitFor("dspy-code> ");
      await send("ls src --json\r");
      at = await waitFor('[{"name":"app.py","dir":false,"size":11}]', at);
      at = await waitFor("dspy-code> ", at);
      await send("grep TODO --json --max 1\r");
      at = await waitFor('"path":"src/app.py"', at);
      at = await waitFor("dspy-code> ", at);
      await send("clear\r");
      at = await waitFor("\x1b[2J", at);
      at = await waitFor("dspy-code> ", at);
      await send("nosuchcmd && ws\r");
      at = await waitFor("Code context", at);
      at = await waitFor("dspy-code> ", at);
      await send("\x04");
      await waitFor("bye", at);
      const status = await child.status;
      assert.equal(status.code, 0, text);
      assert.doesNotMatch(text, /unknown option|unknown command/i);
    } finally {
      await writer.close().catch(() => {});
      try {
        child.kill();
      } catch { /* already exited */ }
      await child.status;
      await reading;
      await child.stderr.cancel();
      await Deno.remove(ws, { recursive: true });
    }
  },
});

Deno.test({
  name: "on a terminal's screen the prompt stays while the session pre-warms its indexes in the background",
  ignore: !runs("tmux", "-V"),
  async fn() {
    // A workspace with both indexes, so the pre-warm loads the search and embeddings layers. Deno loading a
    // module while the prompt was on screen rewrote that line: the prompt vanished before the user typed.
    const ws = await tempWorkspace();
    await Deno.writeTextFile(`${ws}/app.py`, "def retry_with_backoff():\n    pass\n");
    const run = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), { args: ["run", "-A", MAIN_TS, "--workspace", ws, ...args] })
        .output();
    await run("index");
    await run("emb-index", "--backend", "hash");
    const session = `dspy-test-${crypto.randomUUID().slice(0, 8)}`;
    const tmux = (...args: string[]) =>
      new Deno.Command("tmux", { args: ["-L", session, ...args], stdout: "piped", stderr: "null" }).output();
    const screen = async () =>
      new TextDecoder().decode((await tmux("capture-pane", "-t", session, "-p")).stdout);
    try {
      await tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "120",
        "-y",
        "30",
        `'${Deno.execPath()}' run -A '${MAIN_TS}' --workspace '${ws}'`,
      );
      const deadline = Date.now() + 30_000;
      // (capture-pane drops the spaces that end a line.)
      while (!/^dspy-code>/m.test(await screen())) {
        if (Date.now() > deadline) throw new Error(`no prompt on the screen:\n${await screen()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Long enough for the lexical pre-warm and the vectors' (which waits for a quiet second) to run.
      await new Promise((r) => setTimeout(r, 2500));
      assert.match(await screen(), /^dspy-code>\s*$/m, await screen());
      await tmux("send-keys", "-t", session, "ws", "Enter");
      const shown = Date.now() + 20_000;
      while (!/dspy-code> ws\n/.test(await screen())) {
        if (Date.now() > shown) throw new Error(`the typed line is not after a prompt:\n${await screen()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Leave as a user does, so nothing is still writing to the workspace when it is removed.
      await tmux("send-keys", "-t", session, "exit", "Enter");
      const gone = Date.now() + 20_000;
      while ((await tmux("has-session", "-t", session)).success && Date.now() < gone) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await tmux("kill-server");
      await Deno.remove(ws, { recursive: true });
    }
  },
});
