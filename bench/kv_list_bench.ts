/**
 * What reading a durable topic costs per record, and where (`deno run -A bench/kv_list_bench.ts`): the floor
 * under `embed worker` and every durable consumer. In one run, interleaved round by round, medians:
 *
 * - a bare `kv.list` over 50,000 KV values, one record each, stored as an object, as a JSON string (parsed
 *   after the read) and as UTF-8 bytes (decoded and parsed): does the value's shape matter, or is the cost
 *   per value? (Durable topics stored one record a value before they stored blocks of up to 64.)
 * - a consumer group member of the bus reading the same records from a durable topic (blocks), acknowledging
 *   batches of 64, its offsets committed in the background (the group's 20 ms timer) or by awaiting a commit
 *   after every batch.
 *
 * Each line gives records/s and the main thread's CPU µs a record (`/proc/self/task`).
 *
 * Usage: `deno run -A bench/kv_list_bench.ts [--records 50000] [--rounds 3] [--json]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { closeAllKv } from "../core/kv.ts";
import { benchBus, drainGroup } from "./durable_fixtures.ts";
import { type TimedRate, timedRate } from "./proc_cpu.ts";
import { median } from "./stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    records: { type: "string", default: "50000" },
    rounds: { type: "string", default: "3" },
    json: { type: "boolean", default: false },
  },
});
const n = Math.max(1000, Number(values.records));
const rounds = Math.max(1, Number(values.rounds));

type Measure = TimedRate;

/** {@link timedRate}, checking that every record was read. */
async function timed(run: () => Promise<number>): Promise<Measure> {
  const m = await timedRate(run);
  if (m.count !== n) throw new Error(`read ${m.count} records, expected ${n}`);
  return m;
}

const record = (i: number) => ({
  seq: i + 1,
  ts: Date.now(),
  value: { text: `retry backoff kafka consumer offset ${i} commit topic message`, doc_id: `d${i}` },
});
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const SHAPES = {
  object: { store: record, read: (v: unknown) => v },
  "JSON string": {
    store: (i: number) => JSON.stringify(record(i)),
    read: (v: unknown) => JSON.parse(v as string),
  },
  bytes: {
    store: (i: number) => encoder.encode(JSON.stringify(record(i))),
    read: (v: unknown) => JSON.parse(decoder.decode(v as Uint8Array)),
  },
} as const;
type Shape = keyof typeof SHAPES;

const ws = await Deno.makeTempDir({ prefix: "dspy-kv-list-bench-" });
const results = new Map<string, Measure[]>();
const note = (name: string, m: Measure) => results.set(name, [...(results.get(name) ?? []), m]);
try {
  // The bare entries, one prefix per shape, in a KV file of their own.
  const kv = await Deno.openKv(join(ws, "shapes.kv"));
  for (const [shape, { store }] of Object.entries(SHAPES)) {
    for (let s = 0; s < n; s += 500) {
      const op = kv.atomic();
      for (let i = s; i < Math.min(n, s + 500); i++) op.set(["s", shape, "e", i + 1], store(i));
      await op.commit();
    }
  }
  // The same records on a durable topic of the workspace's bus.
  const bus = await benchBus(ws);
  await bus.configureTopic("bench", { durable: true });
  await Promise.all(Array.from({ length: n }, (_, i) => bus.publish("bench", record(i).value)));
  await bus.close();

  const listShape = (shape: Shape) =>
    timed(async () => {
      let count = 0;
      for await (const e of kv.list({ prefix: ["s", shape, "e"] }, { batchSize: 500 })) {
        SHAPES[shape].read(e.value);
        count++;
      }
      return count;
    });
  const consume = (commitEachBatch: boolean, group: string) =>
    timed(async () => {
      const b = await benchBus(ws);
      try {
        return await drainGroup(b, "bench", group, n, { commitEachBatch });
      } finally {
        await b.close();
      }
    });

  const cases: [string, (r: number) => Promise<Measure>][] = [
    ...(Object.keys(SHAPES) as Shape[]).map((
      s,
    ): [string, () => Promise<Measure>] => [`kv.list, record as ${s}`, () => listShape(s)]),
    ["group member, background commits", (r) => consume(false, `plain-${r}`)],
    ["group member, a commit every 64", (r) => consume(true, `commit-${r}`)],
  ];
  for (let r = 0; r < rounds; r++) {
    // Each round starts with another case, so no case always runs first.
    for (let k = 0; k < cases.length; k++) {
      const [name, run] = cases[(k + r) % cases.length];
      note(name, await run(r));
    }
  }
  kv.close();
} finally {
  await closeAllKv();
  await Deno.remove(ws, { recursive: true });
}

const summary = [...results].map(([name, ms]) => ({
  case: name,
  records_per_s: Math.round(median(ms.map((m) => m.perSec))),
  main_thread_us: Math.round(median(ms.map((m) => m.mainUs)) * 10) / 10,
}));
if (values.json) console.log(JSON.stringify({ records: n, rounds, load: Deno.loadavg(), cases: summary }));
else {
  const load = Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
  console.log(`${n} records, medians of ${rounds} rounds (load average ${load})`);
  for (const s of summary) {
    console.log(
      `${s.case.padEnd(36)} ${String(s.records_per_s).padStart(8)} records/s  ${s.main_thread_us} µs`,
    );
  }
}
