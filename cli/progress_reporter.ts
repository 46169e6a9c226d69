/**
 * A progress bar driven by `(done, total)` callbacks, the shape the index and embedding builds report in:
 * the bar appears at the first report (or, with `onlyWithWork`, only once there is work left to show).
 *
 * @module
 */

import type { CommandContext } from "./command.ts";

/** A `(done, total)` callback that draws a bar labelled `label`, and `done` to finish it. */
export function progressReporter(
  ctx: CommandContext,
  label: string,
  options: { onlyWithWork?: boolean } = {},
) {
  let bar: ReturnType<CommandContext["out"]["progress"]> | undefined;
  let last = 0;
  return {
    onProgress(done: number, total: number) {
      // A refresh with nothing to read reports the total at once: no bar to flash then.
      if (!bar && options.onlyWithWork && done >= total) return;
      bar ??= ctx.out.progress(total, label);
      if (done === 0) bar.setTotal(total);
      bar.tick(done - last);
      last = done;
    },
    done(summary?: string) {
      bar?.done(summary);
    },
  };
}
