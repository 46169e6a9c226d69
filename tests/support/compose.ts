/**
 * Test support: Debian's `docker-compose` (1.29) validates and resolves compose files without an engine.
 *
 * @module
 */

import { join } from "node:path";

/**
 * `docker-compose config` of a file, run in its folder with a fixed environment (`HOME=/home/tester`,
 * `PASSTHROUGH=from-host` plus `env`), so outputs compare across runs. Extra arguments go before `config`.
 */
export async function composeConfig(
  file: string,
  env: Record<string, string> = {},
  extra: string[] = [],
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  const out = await new Deno.Command("docker-compose", {
    args: ["-f", file, ...extra, "config"],
    cwd: join(file, ".."),
    env: { HOME: "/home/tester", PASSTHROUGH: "from-host", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output().catch((err) => {
    throw new Error(`docker-compose is not installed (apt-get install docker-compose): ${err}`);
  });
  const dec = new TextDecoder();
  return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
