/**
 * The session behaves like the subcommands (issue #17): the flags every command takes after its name work on
 * a session line, help is always available, `&&` lines and `clear` do what a terminal user expects, a piped
 * session handles SIGINT as documented, and `cd` into a subfolder keeps the state at the workspace root.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { pipedSession, runDspy, tempWorkspace } from "../support/cli.ts";

async function fixture(): Promise<string> {
  const ws = await tempWorkspace();
  await Deno.mkdir(join(ws, "src"));
  await Deno.writeTextFile(join(ws, "src", "app.py"), "def main():\n    pass  # TODO tidy\n");
  return await Deno.realPath(ws);
}

/** The stdout lines that follow the echoed `dspy-code> LINE` of a piped session, up to the next prompt. */
function replyTo(stdout: string, line: string): string {
  const start = stdout.indexOf(`dspy-code> ${line}\n`);
  assert.ok(start >= 0, `no '${line}' in:\n${stdout}`);
  const rest = stdout.slice(start + `dspy-code> ${line}\n`.length);
  const end = rest.search(/^(dspy-code> |bye$)/m);
  return end < 0 ? rest : rest.slice(0, end);
}

Deno.test("session lines take --json, --plain and --workspace as the subcommands do", async () => {
  const ws = await fixture();
  const other = await fixture();
  const lines = [
    "grep TODO --json --max 1",
    "ls src --json",
    "config --json",
    "stats --json",
    "tree src --plain",
    `ws --workspace ${other} --json`,
    "ws",
  ];
  const r = await runDspy(["--workspace", ws], { stdin: lines.join("\n") + "\n" });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /unknown option/i);
  const hit = JSON.parse(replyTo(r.stdout, lines[0]).split("\n")[0]);
  assert.equal(hit.path, "src/app.py");
  assert.deepEqual(JSON.parse(replyTo(r.stdout, lines[1])), [{ name: "app.py", dir: false, size: 34 }]);
  assert.equal(JSON.parse(replyTo(r.stdout, lines[2])).workspace, ws);
  assert.ok(Array.isArray(JSON.parse(replyTo(r.stdout, lines[3])).tools));
  assert.match(replyTo(r.stdout, lines[4]), /^src\/\n└── app\.py/);
  // --workspace applies to that command only.
  assert.equal(JSON.parse(replyTo(r.stdout, lines[5])).workspace, other);
  assert.equal(replyTo(r.stdout, "ws").trim(), ws);
  await Deno.remove(ws, { recursive: true });
  await Deno.remove(other, { recursive: true });
});

Deno.test("help works for session-only commands from a shell; running them still needs the session", async () => {
  for (const name of ["cd", "ollama", "model", "exit", "clear"]) {
    const r = await runDspy([name, "--help"]);
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`Usage: dspy-code ${name}`));
  }
  const h = await runDspy(["--help", "cd"]);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /Usage: dspy-code cd PATH/);
  const run = await runDspy(["cd", "src"]);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /only works inside the interactive session/);
});

Deno.test("a line starting with an unknown word goes to the router whole; a later unknown command runs nothing", async () => {
  const ws = await fixture();
  const r = await runDspy(["--workspace", ws, "--no-ollama"], {
    stdin: "falsecmd && ws\nws && falsecmd\nclear\n",
    env: { OPENAI_BASE_URL: "http://127.0.0.1:9/v1" },
  });
  assert.equal(r.code, 0, r.stderr);
  // The router handled the first line (offline rules), so no "unknown command" for it.
  assert.match(replyTo(r.stdout, "falsecmd && ws"), /Code context/);
  assert.equal(r.stderr.match(/unknown command 'falsecmd'/g)?.length, 1);
  // `ws && falsecmd` is refused before ws runs: the workspace path is never printed.
  assert.equal(replyTo(r.stdout, "ws && falsecmd"), "");
  // `clear` is a command (not a request to the router) and prints no escape codes through a pipe.
  assert.equal(replyTo(r.stdout, "clear"), "");
  assert.ok(!r.stdout.includes("\x1b["), "escape codes in piped output");
  await Deno.remove(ws, { recursive: true });
});

Deno.test("cd into a subfolder keeps the session's state at the workspace root", async () => {
  const ws = await fixture();
  const r = await runDspy(["--workspace", ws], { stdin: "cd src\nls\nstats --json\n" });
  assert.equal(r.code, 0, r.stderr);
  const names = [...Deno.readDirSync(join(ws, "src"))].map((e) => e.name);
  assert.deepEqual(names, ["app.py"]);
  await Deno.stat(join(ws, ".dspy", "state.kv"));
  // The events of the line after `cd` are in the root's KV: stats sees ls.
  const stats = JSON.parse(replyTo(r.stdout, "stats --json"));
  assert.ok(stats.tools.some((t: { tool: string }) => t.tool === "ls"), JSON.stringify(stats.tools));
  await Deno.remove(ws, { recursive: true });
});

Deno.test({
  name: "piped session: SIGINT interrupts the running command and the session goes on",
  ignore: Deno.build.os === "windows",
  async fn() {
    const ws = await fixture();
    const s = pipedSession(ws);
    await s.waitFor("Type 'help'");
    await s.send("tail agent.metrics --follow\n");
    await s.waitFor("dspy-code> tail agent.metrics --follow");
    await new Promise((r) => setTimeout(r, 800));
    s.child.kill("SIGINT");
    await s.waitFor("interrupting the command");
    await s.send("ws\n");
    await s.waitFor(`\n${ws}\n`);
    await s.close();
    const status = await s.child.status;
    const text = await s.output();
    assert.equal(status.code, 0, text);
    assert.match(text, /bye\n/);
    await Deno.remove(ws, { recursive: true });
  },
});

Deno.test({
  name: "piped session: SIGINT while waiting for a line ends the session with bye and exit 130",
  ignore: Deno.build.os === "windows",
  async fn() {
    const ws = await fixture();
    const s = pipedSession(ws);
    await s.send("ws\n");
    await s.waitFor(`\n${ws}\n`);
    s.child.kill("SIGINT");
    const status = await s.child.status;
    await s.close();
    const text = await s.output();
    assert.equal(status.code, 130, text);
    assert.match(text, /interrupted: leaving the session/);
    assert.match(text, /bye\n/);
    await Deno.remove(ws, { recursive: true });
  },
});
