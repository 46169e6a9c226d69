/**
 * `install.sh` against a loopback HTTP server serving a fake release folder: it downloads the asset named
 * for the (overridden) OS and CPU, verifies SHA256SUMS, installs atomically and gives PATH advice; on a
 * checksum mismatch, a missing asset or an unsupported platform it fails and leaves nothing behind.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const INSTALL_SH = fileURLToPath(new URL("../../install.sh", import.meta.url));

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const fakeBinary = (name: string) => `#!/bin/sh\necho "dspy-code 9.9.9 (${name})"\n`;

interface Release {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/** Serves `files` (name → text) over loopback HTTP; every other path is a 404. */
function serveRelease(files: Record<string, string>): Release {
  const requests: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const name = decodeURIComponent(new URL(req.url).pathname.replace(/^\/release\//, ""));
    requests.push(name);
    return Object.hasOwn(files, name)
      ? new Response(files[name])
      : new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/release`,
    requests,
    close: () => server.shutdown(),
  };
}

async function install(env: Record<string, string>) {
  const out = await new Deno.Command("sh", {
    args: [INSTALL_SH],
    env: { PATH: "/usr/bin:/bin", HOME: env.HOME ?? "/nonexistent", SHELL: "/bin/bash", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const ASSETS = [
  "dspy-code-x86_64-unknown-linux-gnu",
  "dspy-code-aarch64-unknown-linux-gnu",
  "dspy-code-x86_64-apple-darwin",
  "dspy-code-aarch64-apple-darwin",
];

function releaseFiles(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const a of ASSETS) files[a] = fakeBinary(a);
  files.SHA256SUMS = ASSETS.map((a) => `${sha256(files[a])}  ${a}`).join("\n") + "\n";
  return files;
}

async function withDirs(fn: (dirs: { home: string; bin: string; tmp: string }) => Promise<void>) {
  const root = await Deno.makeTempDir({ prefix: "install_sh_" });
  const dirs = { home: join(root, "home"), bin: join(root, "home", ".local", "bin"), tmp: join(root, "tmp") };
  await Deno.mkdir(dirs.home, { recursive: true });
  await Deno.mkdir(dirs.tmp);
  try {
    await fn(dirs);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

const listDir = async (dir: string) => {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();
  } catch {
    return [];
  }
};

Deno.test("install.sh: the asset for this OS/CPU, verified, installed to ~/.local/bin with PATH advice", async () => {
  const release = serveRelease(releaseFiles());
  try {
    await withDirs(async ({ home, bin, tmp }) => {
      for (
        const [os, arch, asset] of [
          ["Linux", "x86_64", "dspy-code-x86_64-unknown-linux-gnu"],
          ["Linux", "aarch64", "dspy-code-aarch64-unknown-linux-gnu"],
          ["Darwin", "arm64", "dspy-code-aarch64-apple-darwin"],
          ["Darwin", "x86_64", "dspy-code-x86_64-apple-darwin"],
        ]
      ) {
        release.requests.length = 0;
        const run = await install({
          HOME: home,
          TMPDIR: tmp,
          DSPY_CODE_RELEASE_URL: release.url,
          DSPY_CODE_OS: os,
          DSPY_CODE_ARCH: arch,
        });
        assert.equal(run.code, 0, run.stderr);
        assert.deepEqual(release.requests, ["SHA256SUMS", asset]);
        assert.equal(await Deno.readTextFile(join(bin, "dspy-code")), fakeBinary(asset));
        assert.ok(((await Deno.stat(join(bin, "dspy-code"))).mode! & 0o111) !== 0, "not executable");
        assert.match(run.stdout, new RegExp(`dspy-code 9\\.9\\.9 \\(${asset}\\)`)); // it ran the binary
        assert.match(run.stdout, /is not on your PATH/);
        assert.ok(run.stdout.includes(`export PATH="${bin}:$PATH"' >> ~/.bashrc`), run.stdout);
        assert.deepEqual(await listDir(bin), ["dspy-code"]);
        assert.deepEqual(await listDir(tmp), [], "temporary files left behind");
      }
      // DSPY_CODE_INSTALL, already on PATH: no advice.
      const custom = join(home, "tools");
      const run = await install({
        HOME: home,
        TMPDIR: tmp,
        PATH: `/usr/bin:/bin:${custom}`,
        DSPY_CODE_RELEASE_URL: release.url,
        DSPY_CODE_INSTALL: custom,
        DSPY_CODE_OS: "Linux",
        DSPY_CODE_ARCH: "amd64",
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(await Deno.readTextFile(join(custom, "dspy-code")), fakeBinary(ASSETS[0]));
      assert.doesNotMatch(run.stdout, /not on your PATH/);
    });
  } finally {
    await release.close();
  }
});

Deno.test("install.sh: a checksum mismatch refuses and leaves the previous install and no files behind", async () => {
  const files = releaseFiles();
  files["dspy-code-x86_64-unknown-linux-gnu"] = "#!/bin/sh\necho tampered\n";
  const release = serveRelease(files);
  try {
    await withDirs(async ({ home, bin, tmp }) => {
      await Deno.mkdir(bin, { recursive: true });
      await Deno.writeTextFile(join(bin, "dspy-code"), "previous install");
      const run = await install({
        HOME: home,
        TMPDIR: tmp,
        DSPY_CODE_RELEASE_URL: release.url,
        DSPY_CODE_OS: "Linux",
        DSPY_CODE_ARCH: "x86_64",
      });
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /checksum mismatch for dspy-code-x86_64-unknown-linux-gnu .*nothing was installed/,
      );
      assert.equal(await Deno.readTextFile(join(bin, "dspy-code")), "previous install");
      assert.deepEqual(await listDir(bin), ["dspy-code"]);
      assert.deepEqual(await listDir(tmp), []);
    });
  } finally {
    await release.close();
  }
});

Deno.test("install.sh: a missing asset, a SHA256SUMS without its line, an unsupported platform", async () => {
  const files = releaseFiles();
  delete files["dspy-code-aarch64-apple-darwin"];
  const release = serveRelease(files);
  try {
    await withDirs(async ({ home, bin, tmp }) => {
      const base = { HOME: home, TMPDIR: tmp, DSPY_CODE_RELEASE_URL: release.url };
      const missing = await install({ ...base, DSPY_CODE_OS: "Darwin", DSPY_CODE_ARCH: "arm64" });
      assert.equal(missing.code, 1);
      assert.match(
        missing.stderr,
        /dspy-code-aarch64-apple-darwin: this release has no build for aarch64-apple-darwin/,
      );

      const noLine = releaseFiles();
      noLine.SHA256SUMS = noLine.SHA256SUMS.split("\n").filter((l) => !l.includes("x86_64-apple")).join("\n");
      const release2 = serveRelease(noLine);
      try {
        const run = await install({
          ...base,
          DSPY_CODE_RELEASE_URL: release2.url,
          DSPY_CODE_OS: "Darwin",
          DSPY_CODE_ARCH: "x86_64",
        });
        assert.equal(run.code, 1);
        assert.match(run.stderr, /SHA256SUMS has no line for dspy-code-x86_64-apple-darwin/);
      } finally {
        await release2.close();
      }

      release.requests.length = 0;
      const os = await install({ ...base, DSPY_CODE_OS: "FreeBSD", DSPY_CODE_ARCH: "x86_64" });
      assert.equal(os.code, 1);
      assert.match(os.stderr, /unsupported OS 'FreeBSD': release builds exist for Linux and macOS/);
      const cpu = await install({ ...base, DSPY_CODE_OS: "Linux", DSPY_CODE_ARCH: "riscv64" });
      assert.equal(cpu.code, 1);
      assert.match(cpu.stderr, /unsupported CPU 'riscv64'/);
      assert.deepEqual(release.requests, [], "an unsupported platform downloads nothing");

      const down = await install({
        ...base,
        DSPY_CODE_RELEASE_URL: "http://127.0.0.1:1/none",
        DSPY_CODE_OS: "Linux",
        DSPY_CODE_ARCH: "x86_64",
      });
      assert.equal(down.code, 1);
      assert.match(down.stderr, /could not download http:\/\/127\.0\.0\.1:1\/none\/SHA256SUMS/);

      assert.deepEqual(await listDir(bin), [], "nothing may be installed by a failed run");
      assert.deepEqual(await listDir(tmp), []);
    });
  } finally {
    await release.close();
  }
});
