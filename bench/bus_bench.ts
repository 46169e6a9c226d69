/**
 * Bus benchmark: runs `dspy-code bus bench` in-process (fan-out, 4-member group, 4-worker group, durable
 * topic with a committing group, slow-consumer memory) against a minimal array-queue ceiling measured in the
 * same run, and prints the table (or one JSON object with `--json`). Every rate is shown as a ratio to that
 * ceiling; the absolute goals are printed beside it for reference only (they depend on the machine).
 *
 * Usage: `deno run -A bench/bus_bench.ts [--json] [--quick] [--messages N]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runBusBench } from "../bus/mod.ts";
import { closeAllKv } from "../core/kv.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    json: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    messages: { type: "string" },
  },
});
const quick = values.quick;
const result = await runBusBench({
  messages: values.messages ? Number(values.messages) : quick ? 200_000 : 2_000_000,
  workerMessages: quick ? 50_000 : 500_000,
  durableMessages: quick ? 10_000 : 100_000,
  memoryMessages: quick ? 100_000 : 1_000_000,
  log: values.json ? undefined : (line) => console.error(line),
});
await closeAllKv();
if (values.json) {
  console.log(JSON.stringify(result));
} else {
  const fmt = (x: number) => x.toLocaleString("en-US").padStart(12);
  const ceil = result.ceiling_array_queue.deliveries_per_s;
  // Each rate next to the array-queue ceiling measured in this run; the absolute goals are shown
  // for reference only, since they depend on the machine and its load.
  const vs = (x: number, g: number) =>
    `${(x / ceil).toPrecision(2)}x ceiling (absolute goal ${g.toLocaleString("en-US")}: ${
      x >= g ? "meets" : "below"
    })`;
  console.log(`case                                   rate          unit`);
  console.log(`ceiling: array push/shift, 4 readers  ${fmt(ceil)}  deliveries/s  (baseline, this run)`);
  console.log(
    `fan-out: 1 -> 4 subscribers           ${fmt(result.fanout.deliveries_per_s)}  deliveries/s  ` +
      vs(result.fanout.deliveries_per_s, 3_000_000),
  );
  console.log(
    `group: 4 in-process members           ${fmt(result.group.msgs_per_s)}  msgs/s        ` +
      vs(result.group.msgs_per_s, 2_000_000),
  );
  console.log(
    `worker group: 4 Deno Workers          ${fmt(result.worker_group.msgs_per_s)}  msgs/s        ` +
      `${(result.worker_group.msgs_per_s / ceil).toPrecision(2)}x ceiling`,
  );
  console.log(
    `durable: KV log + committing group    ${fmt(result.durable.msgs_per_s)}  msgs/s        ` +
      vs(result.durable.msgs_per_s, 50_000),
  );
  const m = result.slow_consumer_memory;
  console.log(
    `slow consumer, maxsize ${m.maxsize}, ${
      m.messages.toLocaleString("en-US")
    } msgs: RSS start ${m.rss_start_mb} MB, ` +
      `peak ${m.rss_peak_mb} MB, end ${m.rss_end_mb} MB (heap peak ${m.heap_peak_mb} MB)`,
  );
  const load = await Deno.readTextFile("/proc/loadavg").then(
    (t) => t.split(" ").slice(0, 3).join(" "),
    () => "n/a",
  );
  console.log(`machine: ${result.machine.cores} cores, deno ${result.machine.deno}, load average ${load}`);
}
