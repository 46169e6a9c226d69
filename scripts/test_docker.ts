/**
 * `deno task test:docker`: runs the tests that need a Docker engine (`tests/docker/`), the seed's
 * `make test-docker`. They run only with `DOCKER_TESTS=1` and a Docker engine that answers `docker info`;
 * otherwise this prints why they were skipped and exits 0.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (Deno.env.get("DOCKER_TESTS") !== "1") {
  console.log("skipped: Docker tests run only with DOCKER_TESTS=1 (they need a Docker engine)");
  Deno.exit(0);
}
// The rootful Podman of ../shared/containers/setup.sh serves the Docker API here; use it when DOCKER_HOST is unset.
const PODMAN_SOCKET = "/run/podman/podman.sock";
const env: Record<string, string> = { DOCKER_TESTS: "1" };
const haveSocket = (() => {
  try {
    return Deno.statSync(PODMAN_SOCKET).isSocket === true;
  } catch {
    return false;
  }
})();
if (!Deno.env.get("DOCKER_HOST") && haveSocket) {
  env.DOCKER_HOST = `unix://${PODMAN_SOCKET}`;
}
const info = await new Deno.Command("docker", {
  args: ["info"],
  env,
  stdout: "null",
  stderr: "null",
}).output()
  .catch(() => undefined);
if (!info?.success) {
  console.error("DOCKER_TESTS=1 but no Docker engine answers 'docker info': start Docker and try again");
  Deno.exit(1);
}
const dir = join(root, "tests", "docker");
try {
  Deno.statSync(dir);
} catch {
  console.log("no Docker tests yet (tests/docker/ does not exist)");
  Deno.exit(0);
}
const status = await new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", dir],
  cwd: root,
  stdout: "inherit",
  stderr: "inherit",
  env,
}).spawn().status;
Deno.exit(status.code);
