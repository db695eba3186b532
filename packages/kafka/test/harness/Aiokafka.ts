/**
 * aiokafka (Python, from PyPI) as a test peer: a venv with one pinned aiokafka version, made once
 * with `python3 -m venv` and pip and cached outside the repo (`~/.cache/kafka-effect/`), and
 * `aiokafka_peer.py` run in it. A venv that cannot be made fails with the command and its output;
 * nothing is skipped.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Data, Effect, Schema } from "effect"
import * as PeerOutcome from "./PeerOutcome.js"

/** The newest aiokafka on PyPI that installs on this machine's Python 3.11. */
export const VERSION = "0.14.0"

export const venvDir = path.join(os.homedir(), ".cache", "kafka-effect", `venv-aiokafka-${VERSION}`)
const python = path.join(venvDir, "bin", "python")
const script = path.join(path.dirname(fileURLToPath(import.meta.url)), "aiokafka_peer.py")

export class AiokafkaError extends Data.TaggedError("AiokafkaError")<{
  readonly step: string
  readonly command: string
  readonly detail: string
}> {
  override get message(): string {
    return `aiokafka: ${this.step} failed (${this.command}): ${this.detail}`
  }
}

const run = (step: string, file: string, args: ReadonlyArray<string>, timeoutMs: number) =>
  Effect.async<{ readonly stdout: string; readonly stderr: string }, AiokafkaError>((resume) => {
    const child = execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error === null) resume(Effect.succeed({ stdout, stderr }))
      else
        resume(
          Effect.fail(
            new AiokafkaError({
              step,
              command: [file, ...args].join(" ").slice(0, 300),
              detail: `${error.message}\n${stderr}`.trim().slice(-4000),
            }),
          ),
        )
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const installed = run("check", python, ["-c", `import aiokafka; assert aiokafka.__version__ == "${VERSION}"`], 60_000)

/**
 * The venv's python, made if it is missing: `python3 -m venv` into a fresh directory, pip install
 * of the pinned aiokafka there, then a rename into place (so an interrupted install is never taken
 * for a finished one).
 */
export const ensure: Effect.Effect<string, AiokafkaError> = installed.pipe(
  Effect.as(python),
  Effect.catchAll(() =>
    Effect.gen(function* () {
      const fresh = `${venvDir}.${process.pid}.tmp`
      yield* Effect.sync(() => {
        fs.mkdirSync(path.dirname(venvDir), { recursive: true })
        fs.rmSync(fresh, { recursive: true, force: true })
      })
      yield* run("python3 -m venv (Debian: apt-get install python3-venv)", "python3", ["-m", "venv", fresh], 120_000)
      yield* run("pip install", path.join(fresh, "bin", "python"), ["-m", "pip", "install", "--quiet", `aiokafka==${VERSION}`], 600_000)
      yield* Effect.sync(() => {
        fs.rmSync(venvDir, { recursive: true, force: true })
        fs.renameSync(fresh, venvDir)
      })
      yield* installed
      return python
    }),
  ),
)

/** One case for `aiokafka_peer.py`: a one-partition topic, a position to seek to, the reset setting. */
export type Case = PeerOutcome.Case

export const Outcome = Schema.Struct({
  ...PeerOutcome.fields,
  client: Schema.Literal("aiokafka"),
  version: Schema.String,
  logs: Schema.Array(Schema.String),
})
export type Outcome = typeof Outcome.Type

const decodeLine = Schema.decodeUnknown(Schema.parseJson(Outcome))

/** Runs the cases one after another in the venv; one outcome per case, in order. */
export const runCases = (bootstrap: string, cases: ReadonlyArray<Case>, deadlineSeconds = 30) =>
  Effect.gen(function* () {
    const py = yield* ensure
    const { stdout } = yield* run(
      "aiokafka_peer.py",
      py,
      [script, JSON.stringify({ bootstrap, cases, deadline: deadlineSeconds })],
      (deadlineSeconds + 30) * 1000 * Math.max(1, cases.length),
    )
    const lines = stdout.split("\n").filter((l) => l.trim() !== "")
    return yield* Effect.forEach(lines, (line) =>
      decodeLine(line).pipe(
        Effect.mapError((e) => new AiokafkaError({ step: "decode output", command: script, detail: `${line}: ${e.message}` })),
      ),
    )
  })
