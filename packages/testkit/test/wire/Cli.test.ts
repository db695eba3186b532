/**
 * `pnpm broker` as a user runs it: the first line is the bootstrap address, a real client can use
 * it, and SIGTERM / SIGINT stop it cleanly.
 *
 * The broker runs as node with tsx's loader (what `tsx script` runs), not under the tsx command:
 * that command is a wrapper process, and a SIGKILL of the wrapper leaves the broker running. The
 * broker is started in a process group of its own, and the whole group is killed at the end.
 */
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { run } from "./helpers.js"

const root = Path.resolve(__dirname, "../../../..")
const script = Path.join(root, "packages/testkit/src/bin/broker.ts")
const loader = pathToFileURL(Path.join(root, "node_modules/tsx/dist/loader.mjs")).href
/** The command line of `pnpm broker …` without the wrapper. */
const broker = (args: ReadonlyArray<string>) => ["--import", loader, script, ...args]

/** Kills the process group of a detached child (it leads its group), whatever is left of it. */
const killGroup = (pid: number | undefined) => {
  if (pid === undefined) return
  try {
    process.kill(-pid, "SIGKILL")
  } catch {
    // Already gone.
  }
}

const startBroker = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.async<{ child: ReturnType<typeof spawn>; firstLine: string; output: () => string; exited: Promise<number | null> }>(
      (resume) => {
        const child = spawn(process.execPath, broker(args), { cwd: root, stdio: ["ignore", "pipe", "pipe"], detached: true })
        let out = ""
        let stdout = ""
        let resolved = false
        const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)))
        // The first line of stdout (logs go to stderr).
        child.stdout?.on("data", (d: Buffer) => {
          out += d.toString()
          stdout += d.toString()
          if (!resolved && stdout.includes("\n")) {
            resolved = true
            resume(Effect.succeed({ child, firstLine: stdout.split("\n")[0], output: () => out, exited }))
          }
        })
        child.stderr?.on("data", (d: Buffer) => {
          out += d.toString()
        })
        child.on("error", (e) => resume(Effect.die(e)))
        child.on("close", (code) => {
          if (!resolved) resume(Effect.die(new Error(`broker exited with ${code}: ${out}`)))
        })
        // Interrupted before the first line (the timeout below): nothing to release, so kill it here.
        return Effect.sync(() => killGroup(child.pid))
      },
    ).pipe(Effect.timeout("45 seconds"), Effect.orDie),
    ({ child }) => Effect.sync(() => killGroup(child.pid)),
  )

describe("pnpm broker", () => {
  it.live(
    "prints the bootstrap first, serves kcat, stops on SIGTERM",
    () =>
      Effect.gen(function* () {
        const b = yield* startBroker(["--port", "0", "--brokers", "3", "--partitions", "2", "--topic", "cli:4", "--verbose"])
        expect(b.firstLine).toMatch(/^bootstrap: 127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+$/)
        const bootstrap = b.firstLine.slice("bootstrap: ".length)
        const meta = yield* run("kcat", ["-b", bootstrap, "-L", "-m", "5"])
        expect(meta.stdout).toContain(" 3 brokers:")
        expect(meta.stdout).toContain(`topic "cli" with 4 partitions:`)
        // Auto-created topics get --partitions.
        const produced = yield* run("kcat", ["-b", bootstrap, "-P", "-t", "auto", "-m", "5"], { input: "hello\n" })
        expect(produced.code).toBe(0)
        const meta2 = yield* run("kcat", ["-b", bootstrap, "-L", "-t", "auto", "-m", "5"])
        expect(meta2.stdout).toContain(`topic "auto" with 2 partitions:`)
        b.child.kill("SIGTERM")
        const code = yield* Effect.promise(() => b.exited)
        expect(code).toBe(0)
        expect(b.output()).toContain("broker stopped")
      }).pipe(Effect.scoped),
    90_000,
  )

  it.live(
    "stops on SIGINT, and a busy port is reported, not thrown",
    () =>
      Effect.gen(function* () {
        const first = yield* startBroker(["--port", "0"])
        const port = first.firstLine.split(":").pop() ?? ""
        const second = yield* run(process.execPath, broker(["--port", port]), { timeoutMs: 45_000 })
        expect(second.code).toBe(1)
        expect(second.stderr).toContain(`cannot listen on port ${port}`)
        first.child.kill("SIGINT")
        expect(yield* Effect.promise(() => first.exited)).toBe(0)
      }).pipe(Effect.scoped),
    90_000,
  )

  it.live(
    "--sasl requires authentication: kcat with the user's password is served, without it refused; the password is not printed",
    () =>
      Effect.gen(function* () {
        const b = yield* startBroker(["--port", "0", "--sasl", "plain:alice:cli-Pw:with-colon"])
        const bootstrap = b.firstLine.slice("bootstrap: ".length)
        const as = (password: string) =>
          run("kcat", ["-b", bootstrap, "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice", "-X", `sasl.password=${password}`, "-L", "-m", "5"])
        expect((yield* as("cli-Pw:with-colon")).stdout).toContain(" 1 brokers:")
        expect((yield* as("wrong")).code).not.toBe(0)
        expect(b.output()).toContain("SASL required: PLAIN; users alice")
        expect(b.output()).not.toContain("cli-Pw")
        const bad = yield* run(process.execPath, broker(["--sasl", "kerberos:alice:pw"]), { timeoutMs: 45_000 })
        expect(bad.code).toBe(2)
        expect(bad.stderr).toContain("--sasl needs plain|scram-sha-256|scram-sha-512:user:password, got mechanism kerberos")
        expect(bad.stderr).not.toContain("pw")
      }).pipe(Effect.scoped),
    90_000,
  )
})
