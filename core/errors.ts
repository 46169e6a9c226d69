/**
 * Error types shared by every subsystem. Each carries a message a user can act on; the CLI maps
 * {@link UsageError} to exit code 2 and {@link UserError} to exit code 1 without printing a stack trace.
 *
 * @module
 */

/** A problem the user can fix by changing their input or setup (exit code 1). */
export class UserError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UserError";
  }
}

/** The command line itself is wrong: unknown flag, missing argument, bad value (exit code 2). */
export class UsageError extends UserError {
  override readonly exitCode: number = 2;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}

/** Formats any thrown value as a one-line message (no stack trace). */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
