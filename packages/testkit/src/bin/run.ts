/**
 * Runs one of the testkit's commands as a program: `--help`, `--completions`, a bad argument as one
 * line on stderr and exit 2, a failure as one line and exit 1, Ctrl-C / SIGTERM as a clean stop, exit 0.
 */
// Modules, not the packages' indexes: the command answers sooner (it loads no HTTP, no workers).
import * as Command from "@effect/cli/Command"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as ValidationError from "@effect/cli/ValidationError"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect, Exit } from "effect"

const ansi = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g")

/** An error as one plain line: @effect/cli's parse errors are coloured help documents. */
export const oneLine = (e: unknown): string =>
  (ValidationError.isValidationError(e) ? HelpDoc.toAnsiText(e.error).replace(ansi, "") : e instanceof Error ? e.message : String(e))
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .join(" ")

export const runCommand = <Name extends string, E, A>(command: Command.Command<Name, never, E, A>, name: string): void => {
  const program = Effect.gen(function* () {
    const console = yield* Effect.console
    // @effect/cli prints a parse error before failing with it; the teardown prints it once, on one line.
    return yield* Command.run(command, { name, version: "0.0.0" })(process.argv).pipe(
      Effect.withConsole({ ...console, error: () => Effect.void }),
    )
  })
  NodeRuntime.runMain(program.pipe(Effect.provide(NodeContext.layer)), {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: (exit, onExit) => {
      if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return onExit(0)
      const e = Cause.squash(exit.cause)
      process.stderr.write(`${name}: ${oneLine(e)}\n`)
      onExit(ValidationError.isValidationError(e) ? 2 : 1)
    },
  })
}
