/**
 * A command-line option parser with the behaviour of `node:util`'s `parseArgs` in strict mode with positionals
 * allowed, which every command's options were written against. It exists because importing any `node:` module
 * boots Deno's Node compatibility layer, about 15 ms here: paid before every command that takes an argument,
 * it was 7-8% of a one-shot `esearch` on a large tree. `tests/core/args_test.ts` checks it against
 * `node:util` on generated command lines, errors included.
 *
 * What it accepts (as `parseArgs` does): `--name`, `--name value`, `--name=value`, `-n`, `-n value`, `-nvalue`,
 * groups of short booleans (`-abc`, the last may take a value), `--` (everything after it is positional) and a
 * lone `-` as a positional. A string option always takes the next argument, and refuses one that starts with
 * `-` unless written inline (`--steps=-5`), since that is more often a forgotten value than a negative number.
 *
 * @module
 */

/** One option: `--name` with an optional one-letter `-short`. */
export interface ArgOption {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[] | boolean[];
}

/** The result: option values by name (absent when neither given nor defaulted) and the positionals. */
export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

/** A command line the options do not accept; the message is the one `node:util`'s `parseArgs` gives. */
export class ArgsError extends Error {
  /** `unknown`: an option not declared; `invalid`: a value missing, not allowed, or ambiguous. */
  readonly kind: "unknown" | "invalid";
  constructor(kind: "unknown" | "invalid", message: string) {
    super(message);
    this.name = "ArgsError";
    this.kind = kind;
  }
}

/** One option occurrence before it is checked against the declared options. */
interface OptionToken {
  name: string;
  rawName: string;
  value: string | undefined;
  inlineValue: boolean;
}

/**
 * Parses `args` against `options`.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseArgv(["TODO", "--glob", "*.ts", "-i"], {
 *   glob: { type: "string", multiple: true },
 *   ignoreCase: { type: "boolean", short: "i" },
 * });
 * // values: { glob: ["*.ts"], ignoreCase: true }, positionals: ["TODO"]
 * ```
 * @throws ArgsError for an unknown option or a value that is missing, not allowed or ambiguous
 */
export function parseArgv(args: readonly string[], options: Record<string, ArgOption>): ParsedArgs {
  const own = (name: string): ArgOption | undefined =>
    Object.hasOwn(options, name) ? options[name] : undefined;
  const longFor = (short: string): string => {
    for (const [name, o] of Object.entries(options)) if (o.short === short) return name;
    return short;
  };
  const takesValue = (name: string) => own(name)?.type === "string";

  // No prototype, as parseArgs gives: an option named `constructor` or `toString` is absent until set.
  const values: ParsedArgs["values"] = Object.create(null);
  const positionals: string[] = [];
  const store = (t: OptionToken) => {
    const o = own(t.name);
    if (!o) throw new ArgsError("unknown", unknownOptionMessage(t.rawName));
    const shortAndLong = `${o.short ? `-${o.short}, ` : ""}--${t.name}`;
    if (o.type === "string" && t.value === undefined) {
      throw new ArgsError("invalid", `Option '${shortAndLong} <value>' argument missing`);
    }
    if (o.type === "boolean" && t.value !== undefined) {
      throw new ArgsError("invalid", `Option '${shortAndLong}' does not take an argument`);
    }
    if (!t.inlineValue && t.value !== undefined && t.value.length > 1 && t.value[0] === "-") {
      const example = t.rawName.startsWith("--")
        ? `'${t.rawName}=-XYZ'`
        : `'--${t.name}=-XYZ' or '${t.rawName}-XYZ'`;
      throw new ArgsError(
        "invalid",
        `Option '${t.rawName}' argument is ambiguous.\nDid you forget to specify the option argument for ` +
          `'${t.rawName}'?\nTo specify an option argument starting with a dash use ${example}.`,
      );
    }
    if (t.name === "__proto__") return;
    const value = t.value ?? true;
    if (o.multiple) {
      const list = values[t.name];
      if (Array.isArray(list)) list.push(value);
      else values[t.name] = [value];
    } else values[t.name] = value;
  };

  const queue = [...args];
  while (queue.length > 0) {
    const arg = queue.shift()!;
    if (arg === "--") {
      positionals.push(...queue);
      break;
    }
    if (arg.length === 2 && arg[0] === "-" && arg[1] !== "-") {
      // -n [value]
      const name = longFor(arg[1]);
      const value = takesValue(name) && queue.length > 0 ? queue.shift() : undefined;
      store({ name, rawName: arg, value, inlineValue: false });
    } else if (arg.length > 2 && arg[0] === "-" && arg[1] !== "-") {
      const name = longFor(arg[1]);
      if (takesValue(name)) {
        // -nvalue
        store({ name, rawName: `-${arg[1]}`, value: arg.slice(2), inlineValue: true });
      } else {
        // -abc: each letter an option; one that takes a value takes the rest of the group.
        const expanded: string[] = [];
        for (let i = 1; i < arg.length; i++) {
          if (!takesValue(longFor(arg[i])) || i === arg.length - 1) expanded.push(`-${arg[i]}`);
          else {
            expanded.push(`-${arg.slice(i)}`);
            break;
          }
        }
        queue.unshift(...expanded);
      }
    } else if (arg.length > 2 && arg.startsWith("--")) {
      const eq = arg.indexOf("=", 3);
      if (eq < 0) {
        // --name [value]
        const name = arg.slice(2);
        const value = takesValue(name) && queue.length > 0 ? queue.shift() : undefined;
        store({ name, rawName: arg, value, inlineValue: false });
      } else {
        // --name=value
        store({
          name: arg.slice(2, eq),
          rawName: arg.slice(0, eq),
          value: arg.slice(eq + 1),
          inlineValue: true,
        });
      }
    } else {
      positionals.push(arg);
    }
  }
  for (const [name, o] of Object.entries(options)) {
    if (o.default !== undefined && values[name] === undefined) {
      values[name] = Array.isArray(o.default) ? [...o.default] : o.default;
    }
  }
  return { values, positionals };
}

function unknownOptionMessage(rawName: string): string {
  return `Unknown option '${rawName}'. To specify a positional argument starting with a '-', place it at the ` +
    `end of the command after '--', as in '-- ${JSON.stringify(rawName)}`;
}
