/**
 * The worker module `bus bench` runs in its 4-member worker group: a handler that does a trivial amount of
 * work per message, so the figure measures the bus and the structured-clone hand-off.
 *
 * @module
 */

let sum = 0;

/** Adds the message's `i` to a running sum. */
export function handle(message: { value: { i?: number } }): void {
  sum += message.value.i ?? 0;
}

/** The running sum (keeps the work from being optimised away). */
export function total(): number {
  return sum;
}
