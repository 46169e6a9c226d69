import assert from "node:assert/strict";
import { join } from "node:path";
import {
  appendRecordsToStream,
  appendToStream,
  BLOCK_RECORDS,
  readStream,
  scanStreamBackward,
  streamHead,
  trimStream,
} from "../../core/streams.ts";
import { openWorkspaceKv } from "../../core/kv.ts";
import { atomicWriteFile } from "../../core/atomic.ts";
import { resolveInside } from "../../core/workspace.ts";
import * as path from "../../core/path.ts";
import nodePath from "node:path";

const STREAMS_TS = new URL("../../core/streams.ts", import.meta.url).href;
const KV_TS = new URL("../../core/kv.ts", import.meta.url).href;

Deno.test("appends from several processes at once are ordered and gap-free", async () => {
  const dir = await Deno.makeTempDir();
  const kvFile = join(dir, "state.kv");
  const writers = 4;
  const perWriter = 150;
  const script = `
    import { appendToStream } from "${STREAMS_TS}";
    import { withKvRetry } from "${KV_TS}";
    const kv = await withKvRetry(() => Deno.openKv(${JSON.stringify(kvFile)}));
    const id = Deno.args[0];
    for (let i = 0; i < ${perWriter}; i += 3) {
      await appendToStream(kv, "s", [0, 1, 2].map((k) => ({ id, i: i + k })));
    }
    kv.close();
  `;
  const procs = Array.from({ length: writers }, (_, w) =>
    new Deno.Command(Deno.execPath(), {
      args: ["eval", "--unstable-kv", script, String(w)],
      stdout: "null",
      stderr: "piped",
    }).output());
  for (const out of await Promise.all(procs)) assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const kv = await Deno.openKv(kvFile);
  const entries = await readStream<{ id: string; i: number }>(kv, "s", { limit: 10_000 });
  assert.equal(entries.length, writers * perWriter);
  assert.deepEqual(entries.map((e) => e.seq), entries.map((_, i) => i + 1));
  assert.equal(await streamHead(kv, "s"), writers * perWriter);
  // Each writer's own values keep their order.
  for (let w = 0; w < writers; w++) {
    const mine = entries.filter((e) => e.value.id === String(w)).map((e) => e.value.i);
    assert.deepEqual(mine, Array.from({ length: perWriter }, (_, i) => i));
  }
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("large batches split into several commits; trim keeps the newest", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(join(dir, "s.kv"));
  const seqs = await appendToStream(kv, "big", Array.from({ length: 1234 }, (_, i) => ({ i })));
  assert.deepEqual(seqs, Array.from({ length: 1234 }, (_, i) => i + 1));
  const page = await readStream<{ i: number }>(kv, "big", { after: 1200, limit: 100 });
  assert.deepEqual(page.map((e) => e.value.i), Array.from({ length: 34 }, (_, i) => 1200 + i));
  const removed = await trimStream(kv, "big", { maxCount: 100 });
  assert.equal(removed, 1134);
  const rest = await readStream(kv, "big", { limit: 5000 });
  assert.equal(rest.length, 100);
  assert.equal(rest[0].seq, 1135);
  // New appends continue the sequence after a trim.
  assert.deepEqual(await appendToStream(kv, "big", ["x"]), [1235]);
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("entries are packed into blocks yet read from any position, forward and backward", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(join(dir, "s.kv"));
  // Commits of uneven sizes, so blocks of 1, 64 and in between sit side by side.
  const sizes = [1, 200, 3, 64, 65, 1, 1];
  let n = 0;
  for (const size of sizes) {
    await appendRecordsToStream(
      kv,
      "mixed",
      Array.from({ length: size }, () => {
        n++;
        return { value: { n }, key: n % 2 ? `k${n}` : null, headers: n % 3 ? null : { h: String(n) } };
      }),
    );
  }
  let blocks = 0;
  for await (const _ of kv.list({ prefix: ["stream", "mixed", "b"] })) blocks++;
  assert.ok(blocks < n / 8, `${blocks} KV entries hold ${n} stream entries`);
  const all = await readStream<{ n: number }>(kv, "mixed", { limit: 10_000 });
  assert.deepEqual(all.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1));
  assert.deepEqual(all.map((e) => e.value.n), Array.from({ length: n }, (_, i) => i + 1));
  assert.equal(all[0].key, "k1");
  assert.equal("key" in all[1], false, "an entry without a key has no key field, as before blocks");
  assert.deepEqual(all[2].headers, { h: "3" });
  // Every start position and page size gives the same entries as slicing the whole stream.
  for (const after of [0, 1, 2, 63, 64, 65, 100, 201, 204, 268, 333, 334, n - 1, n, n + 5]) {
    for (const limit of [1, 7, 64, 500]) {
      const page = await readStream<{ n: number }>(kv, "mixed", { after, limit });
      assert.deepEqual(
        page.map((e) => e.seq),
        all.slice(after, after + limit).map((e) => e.seq),
        `${after}/${limit}`,
      );
      const back = await readStream(kv, "mixed", { after, limit, reverse: true });
      const expected = all.slice(after).reverse().slice(0, limit).map((e) => e.seq);
      assert.deepEqual(back.map((e) => e.seq), expected, `reverse ${after}/${limit}`);
    }
  }
  const newestFirst: number[] = [];
  for await (const e of scanStreamBackward(kv, "mixed", 10)) newestFirst.push(e.seq);
  assert.deepEqual(newestFirst, all.map((e) => e.seq).reverse());
  // Retention is exact even when the cut falls inside a block.
  assert.equal(await trimStream(kv, "mixed", { maxCount: 100 }), n - 100);
  const kept = await readStream(kv, "mixed", { limit: 10_000 });
  assert.deepEqual(kept.map((e) => e.seq), all.slice(n - 100).map((e) => e.seq));
  assert.deepEqual((await readStream(kv, "mixed", { after: 0, limit: 1 }))[0].seq, n - 99);
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a block KV finds too large is split, down to one entry per KV value", async () => {
  const dir = await Deno.makeTempDir();
  const kv = await Deno.openKv(join(dir, "s.kv"));
  // Short JSON, long in KV's encoding: every float is 9 bytes there and about 4 characters in JSON.
  const value = { v: Array.from({ length: 2500 }, (_, i) => i + 0.5) };
  const seqs = await appendToStream(kv, "floats", Array.from({ length: BLOCK_RECORDS }, () => value));
  assert.equal(seqs.length, BLOCK_RECORDS);
  const back = await readStream<typeof value>(kv, "floats", { limit: 1000 });
  assert.equal(back.length, BLOCK_RECORDS);
  assert.deepEqual(back[BLOCK_RECORDS - 1].value, value);
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

/**
 * Writes a stream in the layout before blocks into the KV file `file`: one `["stream", name, "e", seq]`
 * value per entry (in commits of 100) and the head counter.
 */
async function writeLegacyStream(
  file: string,
  stream: string,
  entries: { seq: number; ts: number; value: unknown; key?: string }[],
): Promise<void> {
  const kv = await Deno.openKv(file);
  for (let start = 0; start < entries.length; start += 100) {
    const op = kv.atomic();
    for (const e of entries.slice(start, start + 100)) op.set(["stream", stream, "e", e.seq], e);
    await op.commit();
  }
  await kv.set(["stream", stream, "head"], new Deno.KvU64(BigInt(entries.length + 1)));
  kv.close();
}

Deno.test("a workspace written one KV entry per record is converted to blocks on first use", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "old.kv");
  // Two commits with their own timestamps; one entry with a key.
  await writeLegacyStream(
    file,
    "agent.metrics",
    Array.from({ length: 150 }, (_, i) => ({
      seq: i + 1,
      ts: i < 100 ? 1000 : 2000,
      value: { seq: i + 1 },
      ...(i === 6 ? { key: "seven" } : {}),
    })),
  );
  await writeLegacyStream(file, "other", [{ seq: 1, ts: 5, value: "x" }]);

  const kv = await Deno.openKv(file);
  const entries = await readStream<{ seq: number }>(kv, "agent.metrics", { limit: 1000 });
  assert.deepEqual(entries.map((e) => e.value.seq), Array.from({ length: 150 }, (_, i) => i + 1));
  assert.equal(entries[6].key, "seven");
  assert.equal(entries[99].ts, 1000);
  assert.equal(entries[100].ts, 2000);
  assert.deepEqual((await readStream(kv, "other"))[0].value, "x");
  let legacy = 0;
  for await (const e of kv.list({ prefix: ["stream"] })) if (e.key[2] === "e") legacy++;
  assert.equal(legacy, 0);
  // Appends continue the old sequence.
  assert.deepEqual(await appendToStream(kv, "agent.metrics", ["new"]), [151]);
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("processes converting the same old workspace at once leave every entry exactly once", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "old.kv");
  const streams = ["a", "b", "c"];
  const perStream = 700;
  for (const stream of streams) {
    // Timestamps change every 7 entries, so runs (and blocks) are short and the processes race often.
    await writeLegacyStream(
      file,
      stream,
      Array.from(
        { length: perStream },
        (_, i) => ({ seq: i + 1, ts: Math.floor((i + 1) / 7), value: { stream, seq: i + 1 } }),
      ),
    );
  }
  const script = `
    import { readStream } from "${STREAMS_TS}";
    import { withKvRetry } from "${KV_TS}";
    const kv = await withKvRetry(() => Deno.openKv(${JSON.stringify(file)}));
    const got = await readStream(kv, "a", { limit: 10 });
    if (got.length !== 10) throw new Error("read " + got.length);
    kv.close();
  `;
  const procs = Array.from(
    { length: 3 },
    () =>
      new Deno.Command(Deno.execPath(), {
        args: ["eval", "--unstable-kv", script],
        stdout: "null",
        stderr: "piped",
      })
        .output(),
  );
  for (const out of await Promise.all(procs)) assert.ok(out.success, new TextDecoder().decode(out.stderr));
  const kv = await Deno.openKv(file);
  for (const stream of streams) {
    const entries = await readStream<{ stream: string; seq: number }>(kv, stream, { limit: 10_000 });
    assert.deepEqual(entries.map((e) => e.seq), Array.from({ length: perStream }, (_, i) => i + 1), stream);
    assert.ok(
      entries.every((e) =>
        e.value.stream === stream && e.value.seq === e.seq && e.ts === Math.floor(e.seq / 7)
      ),
    );
  }
  for await (const e of kv.list({ prefix: ["stream"] })) {
    assert.notEqual(e.key[2], "e", `left over: ${e.key}`);
  }
  kv.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the workspace KV handle is opened once per process", async () => {
  const dir = await Deno.makeTempDir();
  const a = await openWorkspaceKv(dir);
  const b = await openWorkspaceKv(dir);
  assert.equal(a, b);
  const { closeAllKv } = await import("../../core/kv.ts");
  await closeAllKv();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("atomic writes leave the old content or the new, never a temp file", async () => {
  const dir = await Deno.makeTempDir();
  const file = join(dir, "nested", "state.json");
  await atomicWriteFile(file, "old");
  await Promise.all(Array.from({ length: 20 }, (_, i) => atomicWriteFile(file, `new-${i}`)));
  assert.match(await Deno.readTextFile(file), /^new-\d+$/);
  const names = [...Deno.readDirSync(join(dir, "nested"))].map((e) => e.name);
  assert.deepEqual(names, ["state.json"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("resolveInside refuses .., absolute paths and symlinks that lead out", async () => {
  const ws = await Deno.realPath(await Deno.makeTempDir());
  const outside = await Deno.realPath(await Deno.makeTempDir());
  await Deno.symlink(outside, join(ws, "link"));
  assert.equal(resolveInside(ws, "a/b.txt"), join(ws, "a/b.txt"));
  assert.throws(() => resolveInside(ws, "../x"), /outside the workspace/);
  assert.throws(() => resolveInside(ws, "/etc/passwd"), /outside the workspace/);
  assert.throws(() => resolveInside(ws, "link/new.txt"), /symlink/);
  await Deno.remove(ws, { recursive: true });
  await Deno.remove(outside, { recursive: true });
});

Deno.test("our POSIX path helpers agree with node:path", () => {
  const cases = ["/a/b/../c", "a//b/./c/", "../x/y", "/", ".", "a/..", "/a/b/c.txt"];
  for (const p of cases) {
    assert.equal(path.normalize(p).replace(/\/$/, "") || "/", nodePath.normalize(p).replace(/(.)\/$/, "$1"));
    assert.equal(path.dirname(p), nodePath.dirname(nodePath.normalize(p)));
    assert.equal(path.isAbsolute(p), nodePath.isAbsolute(p));
  }
  assert.equal(path.join("/a", "b", "../c"), nodePath.join("/a", "b", "../c"));
  assert.equal(path.resolve("/a", "b", "/c", "d"), nodePath.resolve("/a", "b", "/c", "d"));
  assert.equal(path.relative("/a/b/c", "/a/d"), nodePath.relative("/a/b/c", "/a/d"));
  assert.equal(path.relative("/a", "/a"), "");
  assert.equal(path.basename("/a/b.txt"), "b.txt");
});
