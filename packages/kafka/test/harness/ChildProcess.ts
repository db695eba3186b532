/**
 * Running the repo's own commands (the CLI, the demo, the README example) as child processes, the
 * way a user runs them.
 */
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Command } from "@effect/platform"
import { Effect, Stream } from "effect"

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..")
export const tsx = path.join(root, "node_modules/.bin/tsx")
export const cli = path.join(root, "packages/kafka/src/bin/cli.ts")

/** Runs a command to its end: exit code, stdout lines, stderr lines. */
export const runToEnd = (command: Command.Command) =>
  Effect.scoped(
    Effect.gen(function* () {
      const proc = yield* Command.start(command)
      const [stdout, stderr, exitCode] = yield* Effect.all(
        [
          proc.stdout.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect),
          proc.stderr.pipe(Stream.decodeText(), Stream.splitLines, Stream.runCollect),
          proc.exitCode,
        ],
        { concurrency: 3 },
      )
      return { exitCode, stdout: [...stdout], stderr: [...stderr] }
    }),
  )
