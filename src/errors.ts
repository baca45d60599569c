/**
 * A mistake the user can fix (bad flag, missing project, invalid config).
 * The CLI prints only the message, as one line, and exits with `exitCode`.
 * Bugs stay ordinary Errors so their stack is kept.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "UserError";
  }
}
