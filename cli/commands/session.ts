/**
 * Session and workspace commands: help, ws, cd, ls, tree, version, exit/quit.
 *
 * @module
 */

import { resolveInside } from "../../core/workspace.ts";
import { displayPath } from "../../core/workspace.ts";
import { UsageError, UserError } from "../../core/errors.ts";
import { VERSION } from "../../core/version.ts";
import { type CommandSpec, EXIT_REQUESTED, intOption, parseCommandArgs } from "../command.ts";
import { lazyImport } from "../lazy.ts";

function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Session commands. */
export const sessionCommands: CommandSpec[] = [
  {
    name: "help",
    aliases: ["?"],
    group: "session",
    summary: "List commands, or show one command's help",
    usage: "help [COMMAND]",
    examples: ["help", "help grep"],
    recordEvents: false,
    async run(args, ctx) {
      const { mainHelp, commandHelp } = await import("../help.ts");
      const { findCommand } = await import("../registry.ts");
      if (args.length === 0) {
        ctx.out.print(mainHelp(ctx.out.c, ctx.session.interactive));
        return;
      }
      const spec = findCommand(args[0]);
      if (!spec) {
        const { unknownCommandMessage } = await import("../line.ts");
        throw new UsageError(unknownCommandMessage(args[0]));
      }
      ctx.out.print(commandHelp(spec, ctx.out.c));
    },
  },
  {
    name: "version",
    group: "session",
    summary: "Print the version (--json: Deno version, target, compiled or from source)",
    usage: "version [--json]",
    examples: ["version", "version --json"],
    recordEvents: false,
    async run(args, ctx) {
      parseCommandArgs("version", args, {}, { max: 0 });
      if (!ctx.out.json) {
        ctx.out.print(`dspy-code ${VERSION}`);
        return;
      }
      const { versionInfo } = await lazyImport<typeof import("../../ops/mod.ts")>(
        new URL("../../ops/mod.ts", import.meta.url),
      );
      ctx.out.printJson(versionInfo());
    },
  },
  {
    name: "ws",
    group: "session",
    summary: "Show the workspace",
    usage: "ws",
    examples: ["ws"],
    run(_args, ctx) {
      if (ctx.out.json) ctx.out.printJson({ workspace: ctx.workspace });
      else ctx.out.print(ctx.workspace);
      return Promise.resolve({ ok: true, data: { workspace: ctx.workspace } });
    },
  },
  {
    name: "config",
    group: "session",
    summary: "Show the effective settings (flags over environment over defaults)",
    usage: "config [--json]",
    examples: ["config", "--no-ollama --model gpt-4o-mini config --json"],
    recordEvents: false,
    details: "  base_url is the LLM endpoint actually used; base_url_source says where it came from\n" +
      "  (--base-url, OLLAMA_HOST, OPENAI_BASE_URL, default, or LOCAL_MODE when the LLM is off).",
    async run(args, ctx) {
      parseCommandArgs("config", args, {}, { max: 0 });
      const o = ctx.options;
      const { describeEndpoint } = await lazyImport<typeof import("../../agent/mod.ts")>(
        new URL("../../agent/mod.ts", import.meta.url),
      );
      const endpoint = describeEndpoint(o);
      const settings = {
        workspace: ctx.workspace,
        model: o.model,
        ollama: o.ollama,
        base_url: endpoint.url,
        base_url_source: endpoint.source,
        api_key: o.apiKey ? `set (${o.apiKey.length} chars)` : null,
        approval: o.approval,
        plain: o.plain,
      };
      if (ctx.out.json) ctx.out.printJson(settings);
      else {ctx.out.table(
          ["setting", "value"],
          Object.entries(settings).map(([k, v]) => [k, String(v ?? "-")]),
        );}
      return { ok: true, data: settings };
    },
  },
  {
    name: "cd",
    group: "session",
    summary: "Change the session's workspace",
    usage: "cd PATH",
    examples: ["cd ../other-project"],
    scope: "session",
    async run(args, ctx) {
      parseCommandArgs("cd", args, {}, { min: 1, max: 1, names: "PATH" });
      ctx.setWorkspace(args[0]);
      ctx.out.print(`workspace: ${ctx.workspace}`);
      // The session loaded this module already (cd is a session command); by URL to keep it off start-up.
      const { startPrewarm } = await lazyImport<typeof import("../session_index.ts")>(
        new URL("../session_index.ts", import.meta.url),
      );
      await startPrewarm(ctx).catch(() => {}); // a nicety: cd has done its work either way
    },
  },
  {
    name: "ls",
    group: "session",
    summary: "List a folder of the workspace",
    usage: "ls [PATH] [--json]",
    examples: ["ls", "ls src --json"],
    async run(args, ctx) {
      const { positionals } = parseCommandArgs("ls", args, {}, { max: 1, names: "PATH" });
      const dir = resolveInside(ctx.workspace, positionals[0] ?? ".");
      const info = await Deno.stat(dir).catch(() => {
        throw new UserError(`ls: ${positionals[0]} does not exist in the workspace`);
      });
      if (!info.isDirectory) throw new UserError(`ls: ${positionals[0]} is not a folder`);
      const { listDirectory } = await lazyImport<typeof import("../tree.ts")>(
        new URL("../tree.ts", import.meta.url),
      );
      const entries = await listDirectory(dir);
      if (ctx.out.json) {
        ctx.out.printJson(entries.map((e) => ({ name: e.name, dir: e.isDirectory, size: e.size })));
      } else if (entries.length === 0) {
        ctx.out.print(ctx.out.c.dim(`(${displayPath(ctx.workspace, dir)} is empty)`));
      } else {
        for (const e of entries) {
          ctx.out.print(
            e.isDirectory ? ctx.out.c.blue(e.name + "/") : `${e.name.padEnd(40)} ${formatSize(e.size)}`,
          );
        }
      }
      return { ok: true, data: { count: entries.length } };
    },
  },
  {
    name: "tree",
    group: "session",
    summary: "Show the folder tree (dirs first; hides .git, node_modules, .venv, .dspy*)",
    usage: "tree [PATH] [-d N] [-a]",
    examples: ["tree", "tree src -d 2", "tree -a"],
    details:
      "  -d, --depth N   levels to show (default 3)\n  -a, --all       include .git, node_modules, .venv, .dspy*",
    async run(args, ctx) {
      const { values, positionals } = parseCommandArgs("tree", args, {
        depth: { type: "string", short: "d" },
        all: { type: "boolean", short: "a" },
      }, { max: 1, names: "PATH" });
      const depth = intOption("tree", "depth", values.depth, 3);
      const dir = resolveInside(ctx.workspace, positionals[0] ?? ".");
      const info = await Deno.stat(dir).catch(() => {
        throw new UserError(`tree: ${positionals[0]} does not exist in the workspace`);
      });
      if (!info.isDirectory) throw new UserError(`tree: ${positionals[0]} is not a folder`);
      const { renderTree } = await lazyImport<typeof import("../tree.ts")>(
        new URL("../tree.ts", import.meta.url),
      );
      const label = positionals[0] ?? displayPath(ctx.workspace, dir);
      const lines = await renderTree(dir, label, { depth, all: values.all, dirStyle: ctx.out.c.blue });
      ctx.out.print(...lines);
    },
  },
  {
    name: "clear",
    group: "session",
    summary: "Clear the terminal screen (does nothing through a pipe)",
    usage: "clear",
    examples: ["clear"],
    scope: "session",
    recordEvents: false,
    run(args, ctx) {
      parseCommandArgs("clear", args, {}, { max: 0 });
      // Erase the screen and the scrollback, cursor home; a piped session's output stays clean text.
      if (Deno.stdout.isTerminal() && !ctx.out.json) ctx.out.write("\x1b[2J\x1b[3J\x1b[H");
      return Promise.resolve();
    },
  },
  {
    name: "exit",
    aliases: ["quit"],
    group: "session",
    summary: "Leave the session (also Ctrl-D)",
    usage: "exit",
    examples: ["exit"],
    scope: "session",
    recordEvents: false,
    run(_args, ctx) {
      ctx.session.state.set(EXIT_REQUESTED, true);
      return Promise.resolve();
    },
  },
];
