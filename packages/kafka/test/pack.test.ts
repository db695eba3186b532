/**
 * The packages as a user installs them: `pnpm build`, `pnpm pack` of core, kafka and testkit, the
 * tarballs installed with npm into a scratch project outside the workspace, a small program
 * typechecked against them (strict, moduleResolution node16 and bundler) and run as ESM and as
 * CommonJS against the embedded broker of the installed testkit: produce, consume, exit 0; and the
 * installed `kafka-effect` command.
 */
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Command } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { root, runToEnd } from "./harness/ChildProcess.js"

const packages = ["core", "kafka", "testkit"] as const

/** The exact versions the workspace pins (pnpm-workspace.yaml's catalog). */
const catalog = (name: string): string => {
  const text = fs.readFileSync(path.join(root, "pnpm-workspace.yaml"), "utf8")
  const quoted = name.startsWith("@") ? `"${name}"` : name
  const m = new RegExp(`^\\s+${quoted.replace(/[/.]/g, "\\$&")}:\\s*(\\S+)`, "m").exec(text)
  if (m === null) throw new Error(`${name} is not in the catalog`)
  return m[1]!
}

const program = `import { Consumer, ConsumerRecord, TopicPartition } from "@kafka-effect/core"
import { KafkaClient, Producer } from "@kafka-effect/kafka"
import { EmbeddedBroker } from "@kafka-effect/testkit"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Stream } from "effect"

const topic = "orders"

const main = Effect.gen(function* () {
  const { brokers } = yield* EmbeddedBroker.EmbeddedBroker
  const producer = yield* Producer.make({ brokers })
  const sent: ReadonlyArray<Producer.RecordMetadata> = yield* producer.send(topic, [
    { key: "a", value: "one", partition: 0, headers: { kind: "first" } },
    { key: "b", value: "two", partition: 1 },
    { key: "c", value: "three", partition: 1 },
  ])
  yield* Console.log(\`sent \${sent.map((m) => \`\${m.partition}@\${m.baseOffset}\`).join(",")}\`)
  const records = yield* Effect.gen(function* () {
    const consumer = yield* Consumer.make({ config: { maxWait: "50 millis" } })
    yield* consumer.assign([TopicPartition.make(topic, 0), TopicPartition.make(topic, 1)])
    yield* consumer.seekToBeginning()
    return yield* consumer.records.pipe(Stream.take(3), Stream.runCollect)
  }).pipe(Effect.scoped, Effect.provide(KafkaClient.layer({ brokers })))
  const seen = [...records]
    .map((r: ConsumerRecord.ConsumerRecord) => \`\${r.partition}@\${r.offset} \${ConsumerRecord.utf8(r.key)}=\${ConsumerRecord.utf8(r.value)} \${r.headers.map((h) => h.key).join("")}\`)
    .sort()
  yield* Console.log(\`consumed \${JSON.stringify(seen)}\`)
}).pipe(Effect.scoped, Effect.provide(EmbeddedBroker.layer({ topics: { [topic]: 2 } })))

NodeRuntime.runMain(main)
`

const compilerOptions = {
  strict: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  target: "ES2022",
  lib: ["ES2022"],
  types: ["node"],
  // Effect's own declarations need DOM and ws typings that a Node service does not have.
  skipLibCheck: true,
  incremental: true,
}

describe("the packed packages, installed with npm", () => {
  it.live(
    "typecheck with node16 and bundler resolution, run as ESM and as CommonJS against the installed embedded broker",
    () =>
      Effect.gen(function* () {
        const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `kafka-effect-pack-${randomBytes(3).toString("hex")}-`))
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(scratch, { recursive: true, force: true })))
        const run = (cwd: string, cmd: string, ...args: Array<string>) =>
          runToEnd(Command.make(cmd, ...args).pipe(Command.workingDirectory(cwd))).pipe(
            Effect.timed,
            Effect.tap(([d]) => Effect.logInfo(`${path.basename(cmd)} ${args.slice(0, 3).join(" ")}: ${Duration.format(d)}`)),
            Effect.map(([, r]) => r),
            Effect.tap((r) =>
              r.exitCode === 0
                ? Effect.void
                : Effect.dieMessage(`${cmd} ${args.join(" ")} exited ${r.exitCode}\n${[...r.stdout, ...r.stderr].join("\n")}`),
            ),
          )

        // Build (incremental) and pack.
        yield* run(root, process.execPath, path.join(root, "node_modules/tsx/dist/cli.mjs"), "scripts/build.ts")
        const tarballs = path.join(scratch, "tarballs")
        yield* run(root, "npx", "--yes", "pnpm@10.34.9", "-r", "--filter", "./packages/*", "pack", "--pack-destination", tarballs)
        const files = fs.readdirSync(tarballs).sort()
        expect(files).toEqual(["kafka-effect-core-0.0.0.tgz", "kafka-effect-kafka-0.0.0.tgz", "kafka-effect-testkit-0.0.0.tgz"])

        // A user's project outside the workspace: our tarballs, Effect as the user's own dependency.
        // It is kept between runs (keyed by the third-party versions) so that npm and tsc only redo
        // what the new tarballs changed; our packages are installed anew each time.
        const thirdParty = ["effect", "@effect/platform", "@effect/platform-node", "@types/node", "typescript"].map(catalog)
        const project = path.join(os.homedir(), ".cache/kafka-effect", `pack-app-${createHash("sha256").update(thirdParty.join()).digest("hex").slice(0, 12)}`)
        fs.mkdirSync(path.join(project, "src"), { recursive: true })
        fs.mkdirSync(path.join(project, "tarballs"), { recursive: true })
        for (const file of files) fs.copyFileSync(path.join(tarballs, file), path.join(project, "tarballs", file))
        fs.rmSync(path.join(project, "node_modules/@kafka-effect"), { recursive: true, force: true })
        fs.rmSync(path.join(project, "package-lock.json"), { force: true })
        const dependencies: Record<string, string> = {
          "@kafka-effect/core": `file:tarballs/${files[0]!}`,
          "@kafka-effect/kafka": `file:tarballs/${files[1]!}`,
          "@kafka-effect/testkit": `file:tarballs/${files[2]!}`,
          effect: catalog("effect"),
          "@effect/platform": catalog("@effect/platform"),
          "@effect/platform-node": catalog("@effect/platform-node"),
          "@types/node": catalog("@types/node"),
        }
        fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "app", private: true, dependencies }, null, 2))
        yield* run(project, "npm", "install", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error")
        // One copy of Effect (the user's), and no test runner pulled into the user's tree.
        const installed = (name: string) => fs.existsSync(path.join(project, "node_modules", name, "package.json"))
        expect(installed("effect") && installed("kafkajs")).toBe(true)
        expect([installed("vitest"), installed("@effect/vitest")]).toEqual([false, false])
        for (const name of packages) {
          expect(fs.existsSync(path.join(project, "node_modules/@kafka-effect", name, "node_modules/effect"))).toBe(false)
        }

        fs.writeFileSync(path.join(project, "src/main.mts"), program)
        fs.writeFileSync(path.join(project, "src/main.cts"), program)
        fs.writeFileSync(
          path.join(project, "tsconfig.json"),
          JSON.stringify({
            compilerOptions: { ...compilerOptions, module: "node16", moduleResolution: "node16", outDir: "out", rootDir: "src", tsBuildInfoFile: "node16.tsbuildinfo" },
            include: ["src"],
          }),
        )
        fs.writeFileSync(
          path.join(project, "tsconfig.bundler.json"),
          JSON.stringify({
            compilerOptions: { ...compilerOptions, module: "preserve", moduleResolution: "bundler", noEmit: true, tsBuildInfoFile: "bundler.tsbuildinfo" },
            include: ["src/main.mts"],
          }),
        )
        const tsc = path.join(root, "node_modules/typescript/bin/tsc")
        yield* Effect.all([run(project, process.execPath, tsc, "-p", "tsconfig.json"), run(project, process.execPath, tsc, "-p", "tsconfig.bundler.json")], {
          concurrency: 2,
        })
        // The CommonJS build really is required, not imported.
        expect(fs.readFileSync(path.join(project, "out/main.cjs"), "utf8")).toContain('require("@kafka-effect/kafka")')

        const expected = [
          "sent 0@0,1@0",
          // The Producer adds each record's traceparent header after the user's.
          `consumed ${JSON.stringify(["0@0 a=one kindtraceparent", "1@0 b=two traceparent", "1@1 c=three traceparent"])}`,
        ]
        const [esm, cjs] = yield* Effect.all(
          [run(project, process.execPath, "out/main.mjs"), run(project, process.execPath, "out/main.cjs")],
          { concurrency: 2 },
        )
        expect(esm.stdout.filter((l) => l !== "")).toEqual(expected)
        expect(cjs.stdout.filter((l) => l !== "")).toEqual(expected)

        // Internals stay hidden in both resolutions.
        const hidden = yield* run(
          project,
          process.execPath,
          "-e",
          `for (const id of ["@kafka-effect/kafka/internal/errors", "@kafka-effect/core/internal/x"]) {
             try { require(id); console.log("resolved " + id) } catch (e) { console.log(e.code) }
           }
           import("@kafka-effect/kafka/internal/errors").then(() => console.log("resolved"), (e) => console.log(e.code))`,
        )
        expect(hidden.stdout.filter((l) => l !== "")).toEqual([
          "ERR_PACKAGE_PATH_NOT_EXPORTED",
          "ERR_PACKAGE_PATH_NOT_EXPORTED",
          "ERR_PACKAGE_PATH_NOT_EXPORTED",
        ])

        // The command line as installed: node_modules/.bin/kafka-effect on node, the testkit's
        // commands found beside it, a bad argument answered with one line and exit 2.
        const bin = path.join(project, "node_modules/.bin/kafka-effect")
        expect(fs.readFileSync(bin, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node")
        const help = yield* run(project, bin, "broker", "--help")
        expect(help.stdout.join("\n")).toContain("--verbose")
        const bad = yield* runToEnd(Command.make(bin, "offsets", "--topic", "t").pipe(Command.workingDirectory(project), Command.env({ KAFKA_BROKERS: "" })))
        expect([bad.exitCode, bad.stderr]).toEqual([2, ["kafka-effect: --brokers: missing (or set KAFKA_BROKERS)"]])
      }).pipe(Effect.scoped, Effect.provide(NodeContext.layer)),
    600_000,
  )
})
