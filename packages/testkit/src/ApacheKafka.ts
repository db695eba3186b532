/**
 * Real Apache Kafka on this machine, for tests, the demo and the bench: the broker's jars are fetched
 * from Maven Central with Maven (cached outside the repo), KRaft storage is formatted, and one
 * combined broker+controller node or a three-node cluster (each broker+controller, replication
 * factor 3, `min.insync.replicas=2`) is started on free loopback ports. The nodes are ready when
 * every broker is listed in a Metadata answer. Closing the scope stops them (SIGTERM, then SIGKILL)
 * and removes their data; a node also dies with the process that started it (Linux `setpriv
 * --pdeathsig`), so a crashed test run leaves no broker behind.
 *
 * Needs Java 17+ (`java` on PATH, or `JAVA_HOME`) and Maven (`mvn`): `bash scripts/system-deps.sh`
 * installs both on Debian. The Kafka version is {@link DEFAULT_VERSION} unless `KAFKA_VERSION` or
 * the `version` option names another (3.9.x works too).
 *
 * @since 0.1.0
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Clock, Context, Data, type Duration, Effect, Exit, Layer, Schedule, Scope } from "effect"

/**
 * The Kafka version the project runs against.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_VERSION = "4.4.0"

/** The log4j2 version that binds the broker's slf4j logging (the Maven artifacts lack a binding). */
const LOG4J_VERSION = "2.25.3"

/**
 * A step of starting real Apache Kafka failed (fetching the jars, formatting storage, starting a
 * node, …), with its output.
 *
 * @since 0.1.0
 * @category errors
 */
export class ApacheKafkaError extends Data.TaggedError("ApacheKafkaError")<{
  readonly step: string
  readonly detail: string
}> {
  override get message(): string {
    return `Apache Kafka: ${this.step} failed: ${this.detail}`
  }
}

/**
 * Options of a real Kafka cluster: one node or three, the version, broker config, port, JVM profile,
 * log level and security (TLS, SASL, ACLs).
 *
 * @since 0.1.0
 * @category options
 */
export interface Options {
  /** One combined node (default) or three. */
  readonly nodes?: 1 | 3
  /** Default: `KAFKA_VERSION`, else {@link DEFAULT_VERSION}. */
  readonly version?: string
  /** Broker settings added to (or replacing) the defaults on every node. */
  readonly config?: Readonly<Record<string, string>>
  /** The first broker port (the others follow it); default free ports. */
  readonly port?: number
  /** `test` (default): a small heap and quick JIT for fast starts; `server`: for measurements. */
  readonly jvm?: "test" | "server"
  /** Broker log level (log4j2): default `INFO`. The log is in each node's `server.log`. */
  readonly logLevel?: "ERROR" | "WARN" | "INFO" | "DEBUG"
  /** A second listener on every node (`Cluster.secureBrokers`) with TLS and/or SASL, and ACLs. */
  readonly security?: Security
}

/**
 * The secure listener. The PLAINTEXT listener stays (inter-broker traffic, and an admin connection
 * for the test's set-up: its principal `User:ANONYMOUS` is a super user when ACLs are on).
 *
 * @since 0.1.0
 * @category models
 */
export interface Security {
  /** SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 for these users (name → password). */
  readonly sasl?: { readonly users: Readonly<Record<string, string>> }
  /** TLS with this PEM certificate chain and unencrypted PKCS#8 PEM private key. */
  readonly tls?: { readonly certificateChain: string; readonly privateKey: string }
  /** Kafka's StandardAuthorizer: nothing is allowed but what ACLs allow (super users: ANONYMOUS, `superUsers`). */
  readonly acls?: { readonly superUsers?: ReadonlyArray<string> }
}

/**
 * One broker of a started cluster.
 *
 * @since 0.1.0
 * @category models
 */
export interface Node {
  readonly nodeId: number
  readonly host: string
  readonly port: number
  readonly controllerPort: number
  /** The secure listener's port, with `Options.security`. */
  readonly securePort: number | undefined
  /** The node's directory: `server.properties`, `server.log`, `data/`. */
  readonly dir: string
}

/**
 * A started Kafka cluster: its version, bootstrap servers, nodes and config, and killing or restarting
 * a node.
 *
 * @since 0.1.0
 * @category models
 */
export interface Cluster {
  readonly version: string
  /** `host:port` of every broker, comma-joined. */
  readonly bootstrap: string
  readonly brokers: ReadonlyArray<string>
  readonly nodeIds: ReadonlyArray<number>
  readonly nodes: ReadonlyArray<Node>
  /** `host:port` of every node's secure listener (`Options.security`), else empty. */
  readonly secureBrokers: ReadonlyArray<string>
  /** The broker settings every node started with. */
  readonly config: Readonly<Record<string, string>>
  /** SIGKILL of one node (a crash: no controlled shutdown). */
  readonly kill: (nodeId: number) => Effect.Effect<void, ApacheKafkaError>
  /** Starts a stopped or killed node again and waits until it serves. */
  readonly restart: (nodeId: number) => Effect.Effect<void, ApacheKafkaError>
  /** Whether the node's process is running. */
  readonly isRunning: (nodeId: number) => boolean
}

/**
 * The tag of a running Apache Kafka cluster.
 *
 * @since 0.1.0
 * @category services
 */
export class ApacheKafka extends Context.Tag("@kafka-effect/testkit/ApacheKafka")<ApacheKafka, Cluster>() {}

// ---------------------------------------------------------------------------------------------
// jars

const cacheRoot = (): string =>
  process.env.KAFKA_EFFECT_CACHE ??
  path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "kafka-effect")

const exec = (step: string, file: string, args: ReadonlyArray<string>, options: { cwd?: string } = {}) =>
  Effect.async<string, ApacheKafkaError>((resume) => {
    const child = execFile(file, [...args], { ...options, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) resume(Effect.succeed(stdout))
      else {
        const missing = error.code === "ENOENT"
        resume(
          Effect.fail(
            new ApacheKafkaError({
              step,
              detail: missing
                ? `${file} not found: run \`bash scripts/system-deps.sh\` (it installs Java 17+ and Maven on Debian)`
                : `${file} exited ${error.code ?? error.signal}: ${`${stdout}\n${stderr}`.trim().slice(-3000)}`,
            }),
          ),
        )
      }
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const dependency = (group: string, artifact: string, version: string, exclusions: ReadonlyArray<string> = []) => `
    <dependency>
      <groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version>${
        exclusions.length === 0
          ? ""
          : `
      <exclusions>${exclusions
        .map((e) => {
          const [g, a] = e.split(":")
          return `<exclusion><groupId>${g}</groupId><artifactId>${a}</artifactId></exclusion>`
        })
        .join("")}</exclusions>`
      }
    </dependency>`

/**
 * The broker and its tools (`kafka-tools`: the consumer-groups tool, the console consumer), with a
 * log4j2 binding for the slf4j line the version uses (Kafka 4 logs through slf4j 2, 3.x through 1.7).
 */
const pom = (version: string): string => {
  const major = Number(version.split(".")[0])
  const noReload4j = ["org.slf4j:slf4j-reload4j", "ch.qos.reload4j:reload4j", "org.slf4j:slf4j-log4j12", "log4j:log4j"]
  const logging =
    major >= 4
      ? dependency("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION) +
        dependency("org.slf4j", "slf4j-api", "2.0.17")
      : dependency("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION) +
        dependency("org.slf4j", "slf4j-api", "1.7.36")
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>kafka-effect.local</groupId>
  <artifactId>apache-kafka-runtime</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>${dependency("org.apache.kafka", "kafka_2.13", version, noReload4j)}${dependency(
    "org.apache.kafka",
    "kafka-tools",
    version,
    noReload4j,
  )}${dependency("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION)}${logging}
  </dependencies>
</project>
`
}

/**
 * The directory of Kafka `version`'s jars, fetched with Maven on first use and cached in
 * `~/.cache/kafka-effect/kafka-<version>/libs` (`KAFKA_EFFECT_CACHE` or `XDG_CACHE_HOME` move it).
 *
 * @since 0.1.0
 * @category jars
 */
export const jars = (version: string = defaultVersion()): Effect.Effect<string, ApacheKafkaError> =>
  Effect.gen(function* () {
    const dir = path.join(cacheRoot(), `kafka-${version}`)
    const libs = path.join(dir, "libs")
    if (fs.existsSync(path.join(libs, `kafka_2.13-${version}.jar`))) return libs
    yield* Effect.try({
      try: () => fs.mkdirSync(dir, { recursive: true }),
      catch: (e) => new ApacheKafkaError({ step: "cache directory", detail: String(e) }),
    })
    const work = fs.mkdtempSync(path.join(dir, "fetch-"))
    const pomFile = path.join(work, "pom.xml")
    fs.writeFileSync(pomFile, pom(version))
    yield* exec(`fetching Kafka ${version}'s jars from Maven Central`, "mvn", [
      "-q",
      "-B",
      "-f",
      pomFile,
      "dependency:copy-dependencies",
      `-DoutputDirectory=${path.join(work, "libs")}`,
    ]).pipe(Effect.ensuring(Effect.sync(() => fs.rmSync(pomFile, { force: true }))))
    try {
      fs.renameSync(path.join(work, "libs"), libs)
    } catch {
      // Another process cached the same version first: theirs is as good.
    }
    fs.rmSync(work, { recursive: true, force: true })
    if (!fs.existsSync(path.join(libs, `kafka_2.13-${version}.jar`))) {
      return yield* new ApacheKafkaError({ step: "fetching jars", detail: `kafka_2.13-${version}.jar missing in ${libs}` })
    }
    return libs
  })

/**
 * The Kafka version to run: `KAFKA_VERSION` from the environment, else the default one.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultVersion = (): string => process.env.KAFKA_VERSION ?? DEFAULT_VERSION

// ---------------------------------------------------------------------------------------------
// nodes

const javaBin = (): string => (process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin", "java") : "java")

const freePort = Effect.async<number, ApacheKafkaError>((resume) => {
  const server = net.createServer()
  server.once("error", (e) => resume(Effect.fail(new ApacheKafkaError({ step: "free port", detail: String(e) }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A Java properties file: backslashes and line breaks in values escaped. */
const properties = (entries: Readonly<Record<string, string>>): string =>
  `${Object.entries(entries)
    .map(([k, v]) => `${k}=${v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`)
    .join("\n")}\n`

const log4j2 = (level: string): string => `status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = \${sys:kafka.logs.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = ${level}
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = ${level}
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
`

/** Settings for fast tests: no rebalance delay, small internal topics, a quick log cleaner. */
const baseConfig = (n: number): Record<string, string> => ({
  "group.initial.rebalance.delay.ms": "0",
  "num.partitions": "1",
  "auto.create.topics.enable": "true",
  "delete.topic.enable": "true",
  "default.replication.factor": String(n),
  "min.insync.replicas": n === 3 ? "2" : "1",
  "offsets.topic.replication.factor": String(n),
  "offsets.topic.num.partitions": "5",
  "transaction.state.log.replication.factor": String(n),
  "transaction.state.log.min.isr": n === 3 ? "2" : "1",
  "transaction.state.log.num.partitions": "5",
  "share.coordinator.state.topic.replication.factor": String(n),
  "share.coordinator.state.topic.min.isr": n === 3 ? "2" : "1",
  "log.retention.check.interval.ms": "1000",
  "log.cleaner.backoff.ms": "500",
  "log.cleaner.dedupe.buffer.size": String(8 * 1024 * 1024),
  "log.cleaner.threads": "1",
  "num.network.threads": "2",
  "num.io.threads": "4",
  "num.recovery.threads.per.data.dir": "1",
  "socket.request.max.bytes": String(100 * 1024 * 1024),
})

const secureProtocol = (security: Security): string =>
  security.sasl === undefined ? "SSL" : security.tls === undefined ? "SASL_PLAINTEXT" : "SASL_SSL"

/** A JAAS string value: quoted, with backslashes and quotes escaped. */
const jaasQuote = (value: string): string => `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`

const securityConfig = (security: Security, tlsFile: string): Record<string, string> => {
  const config: Record<string, string> = {}
  if (security.tls !== undefined) {
    config["listener.name.secure.ssl.keystore.type"] = "PEM"
    config["listener.name.secure.ssl.keystore.location"] = tlsFile
  }
  if (security.sasl !== undefined) {
    const users = Object.entries(security.sasl.users)
    config["sasl.enabled.mechanisms"] = "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512"
    config["listener.name.secure.plain.sasl.jaas.config"] =
      `org.apache.kafka.common.security.plain.PlainLoginModule required ${users.map(([name, password]) => `user_${name}=${jaasQuote(password)}`).join(" ")};`
    config["listener.name.secure.scram-sha-256.sasl.jaas.config"] = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    config["listener.name.secure.scram-sha-512.sasl.jaas.config"] = "org.apache.kafka.common.security.scram.ScramLoginModule required;"
  }
  if (security.acls !== undefined) {
    config["authorizer.class.name"] = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    config["super.users"] = ["ANONYMOUS", ...(security.acls.superUsers ?? [])].map((u) => `User:${u}`).join(";")
    config["allow.everyone.if.no.acl.found"] = "false"
  }
  return config
}

/** SCRAM credentials are stored in the cluster metadata, written at format time. */
const scramCredentials = (security: Security | undefined): ReadonlyArray<string> =>
  Object.entries(security?.sasl?.users ?? {}).flatMap(([name, password]) =>
    ["SCRAM-SHA-256", "SCRAM-SHA-512"].flatMap((mechanism) => ["--add-scram", `${mechanism}=[name=${name},password=${password}]`]),
  )

const jvmOptions = (profile: "test" | "server"): ReadonlyArray<string> =>
  profile === "test"
    ? ["-Xms256m", "-Xmx768m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss1m"]
    : ["-Xms1g", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]

/** A Metadata v4 request (every listed broker), as bytes on the wire. */
const metadataRequest = (): Buffer => {
  const clientId = Buffer.from("kafka-effect-apache-kafka")
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1)
  let o = 0
  o = body.writeInt16BE(3, o) // Metadata
  o = body.writeInt16BE(4, o)
  o = body.writeInt32BE(1, o)
  o = body.writeInt16BE(clientId.length, o)
  o += clientId.copy(body, o)
  o = body.writeInt32BE(0, o) // no topics: brokers only
  body.writeInt8(0, o) // allow_auto_topic_creation
  const frame = Buffer.alloc(4)
  frame.writeInt32BE(body.length, 0)
  return Buffer.concat([frame, body])
}

/** The broker ids a Metadata v4 answer lists. */
const metadataBrokers = (frame: Buffer): ReadonlyArray<number> => {
  let o = 4 + 4 + 4 // length, correlation id, throttle time
  const count = frame.readInt32BE(o)
  o += 4
  const ids: Array<number> = []
  for (let i = 0; i < count; i++) {
    ids.push(frame.readInt32BE(o))
    o += 4
    o += 2 + frame.readInt16BE(o) // host
    o += 4 // port
    const rack = frame.readInt16BE(o)
    o += 2 + Math.max(rack, 0)
  }
  return ids
}

/** Asks one broker for Metadata; succeeds with the broker ids it lists. */
const askMetadata = (host: string, port: number) =>
  Effect.async<ReadonlyArray<number>, ApacheKafkaError>((resume) => {
    const socket = net.connect({ host, port })
    let buffer = Buffer.alloc(0)
    const fail = (detail: string) => {
      socket.destroy()
      resume(Effect.fail(new ApacheKafkaError({ step: "Metadata", detail })))
    }
    socket.setTimeout(2000, () => fail("no answer within 2s"))
    socket.once("error", (e) => fail(e.message))
    socket.once("connect", () => socket.write(metadataRequest()))
    socket.on("data", (data) => {
      buffer = Buffer.concat([buffer, data])
      if (buffer.length >= 4 && buffer.length >= 4 + buffer.readInt32BE(0)) {
        socket.destroy()
        try {
          resume(Effect.succeed(metadataBrokers(buffer)))
        } catch (e) {
          resume(Effect.fail(new ApacheKafkaError({ step: "Metadata", detail: `unreadable answer: ${String(e)}` })))
        }
      }
    })
    return Effect.sync(() => socket.destroy())
  })

const tail = (file: string, bytes = 4000): string => {
  try {
    const text = fs.readFileSync(file, "utf8")
    return text.slice(-bytes)
  } catch {
    return "(no log)"
  }
}

interface Running {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
}

const startProcess = (node: Node, libs: string, profile: "test" | "server"): Running => {
  const out = fs.openSync(path.join(node.dir, "stdout.log"), "a")
  const args = [
    ...jvmOptions(profile),
    "-Djava.awt.headless=true",
    `-Dlog4j2.configurationFile=${path.join(node.dir, "log4j2.properties")}`,
    `-Dkafka.logs.file=${path.join(node.dir, "server.log")}`,
    `-Dkafka.logs.dir=${node.dir}`,
    "-cp",
    `${libs}/*`,
    "kafka.Kafka",
    path.join(node.dir, "server.properties"),
  ]
  // setpriv execs java with a parent-death signal: if the starting process dies, so does the node.
  const usePdeathsig = process.platform === "linux" && fs.existsSync("/usr/bin/setpriv")
  const child = usePdeathsig
    ? spawn("/usr/bin/setpriv", ["--pdeathsig", "SIGKILL", javaBin(), ...args], { stdio: ["ignore", out, out] })
    : spawn(javaBin(), args, { stdio: ["ignore", out, out] })
  fs.closeSync(out)
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => resolve(code))
    child.once("error", () => resolve(-1))
  })
  return { child, exited }
}

const stopProcess = (running: Running, signal: NodeJS.Signals, grace: Duration.DurationInput) =>
  Effect.gen(function* () {
    if (running.child.exitCode !== null || running.child.signalCode !== null) return
    running.child.kill(signal)
    const done = yield* Effect.promise(() => running.exited).pipe(Effect.timeout(grace), Effect.option)
    if (done._tag === "None") {
      running.child.kill("SIGKILL")
      // Bounded as well: a stop never holds a scope's close for long.
      yield* Effect.promise(() => running.exited).pipe(Effect.timeout("5 seconds"), Effect.option)
    }
  })

/**
 * Real processes wait in real time, also under a test's `TestClock` (the waits for a node to serve
 * and for a stopped node to exit run on the live clock).
 */
const liveClock = Clock.make()
const live = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.withClock(effect, liveClock)

/**
 * Starts Apache Kafka for the scope's lifetime. Fails (never skips) when Java, Maven or the broker
 * is missing or does not come up, with the tail of the broker's log.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Cluster, ApacheKafkaError, Scope.Scope> =>
  live(makeCluster(options))

const makeCluster = (options: Options): Effect.Effect<Cluster, ApacheKafkaError, Scope.Scope> =>
  Effect.gen(function* () {
    const n = options.nodes ?? 1
    const version = options.version ?? defaultVersion()
    const profile = options.jvm ?? "test"
    const libs = yield* jars(version)
    const root = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kafka-effect-kafka-"))),
      // Not `rmSync`: the nodes' logs of a long run are many files, and the close shares its event
      // loop with whatever else runs in the process (a test runner's worker).
      (dir) => Effect.promise(() => fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3 })),
    )
    const nodes: Array<Node> = []
    for (let i = 0; i < n; i++) {
      const port = options.port === undefined || options.port === 0 ? yield* freePort : options.port + i
      const controllerPort = yield* freePort
      const securePort = options.security === undefined ? undefined : yield* freePort
      const dir = path.join(root, `node-${i + 1}`)
      fs.mkdirSync(dir)
      nodes.push({ nodeId: i + 1, host: "127.0.0.1", port, controllerPort, securePort, dir })
    }
    const voters = nodes.map((node) => `${node.nodeId}@${node.host}:${node.controllerPort}`).join(",")
    const security = options.security
    const tlsFile = path.join(root, "secure-listener.pem")
    if (security?.tls !== undefined) fs.writeFileSync(tlsFile, `${security.tls.privateKey.trim()}\n${security.tls.certificateChain.trim()}\n`)
    const shared: Record<string, string> = {
      ...baseConfig(n),
      ...(security === undefined ? {} : securityConfig(security, tlsFile)),
      ...(n === 1 ? { "controller.quorum.bootstrap.servers": `${nodes[0].host}:${nodes[0].controllerPort}` } : { "controller.quorum.voters": voters }),
      ...options.config,
    }
    const secure = (node: Node) => (node.securePort === undefined ? "" : `,SECURE://${node.host}:${node.securePort}`)
    for (const node of nodes) {
      const props = {
        "process.roles": "broker,controller",
        "node.id": String(node.nodeId),
        listeners: `PLAINTEXT://${node.host}:${node.port},CONTROLLER://${node.host}:${node.controllerPort}${secure(node)}`,
        "advertised.listeners": `PLAINTEXT://${node.host}:${node.port}${secure(node)}`,
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": `PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${security === undefined ? "" : `,SECURE:${secureProtocol(security)}`}`,
        "log.dirs": path.join(node.dir, "data"),
        ...shared,
      }
      fs.writeFileSync(path.join(node.dir, "server.properties"), properties(props))
      fs.writeFileSync(path.join(node.dir, "log4j2.properties"), log4j2(options.logLevel ?? "INFO"))
    }
    const classpath = `${libs}/*`
    // A Kafka Uuid: 16 random bytes, base64url without padding (what `StorageTool random-uuid` prints).
    // Like Kafka's Uuid.randomUuid, never one starting with "-": the tool's parser takes it for an option.
    let clusterId = randomBytes(16).toString("base64url")
    while (clusterId.startsWith("-")) clusterId = randomBytes(16).toString("base64url")
    yield* Effect.forEach(
      nodes,
      (node) =>
        exec(`formatting KRaft storage of node ${node.nodeId}`, javaBin(), [
          "-Xshare:auto",
          "-XX:TieredStopAtLevel=1",
          `-Dlog4j2.configurationFile=${path.join(node.dir, "log4j2.properties")}`,
          `-Dkafka.logs.file=${path.join(node.dir, "format.log")}`,
          "-cp",
          classpath,
          "kafka.tools.StorageTool",
          "format",
          "-t",
          clusterId,
          "-c",
          path.join(node.dir, "server.properties"),
          ...(n === 1 ? ["--standalone"] : []),
          ...scramCredentials(security),
        ]),
      { concurrency: "unbounded", discard: true },
    )

    const running = new Map<number, Running>()
    const nodeOf = (nodeId: number) =>
      Effect.suspend(() => {
        const node = nodes.find((x) => x.nodeId === nodeId)
        return node === undefined
          ? Effect.fail(new ApacheKafkaError({ step: `node ${nodeId}`, detail: `no such node (nodes ${nodes.map((x) => x.nodeId).join(", ")})` }))
          : Effect.succeed(node)
      })

    /** Waits until `node` answers Metadata listing `expect` brokers (or its process dies). */
    const awaitServing = (node: Node, expect: number) =>
      Effect.gen(function* () {
        const proc = running.get(node.nodeId)
        if (proc !== undefined && (proc.child.exitCode !== null || proc.child.signalCode !== null)) {
          return yield* new ApacheKafkaError({
            step: `starting node ${node.nodeId}`,
            detail: `the broker exited (${proc.child.exitCode ?? proc.child.signalCode}); its log:\n${tail(path.join(node.dir, "server.log"))}\n${tail(path.join(node.dir, "stdout.log"), 1500)}`,
          })
        }
        const ids = yield* askMetadata(node.host, node.port)
        if (ids.length < expect) {
          return yield* new ApacheKafkaError({ step: `starting node ${node.nodeId}`, detail: `Metadata lists brokers ${ids.join(",")} of ${expect}` })
        }
      }).pipe(
        Effect.retry({
          schedule: Schedule.spaced("200 millis").pipe(Schedule.upTo("120 seconds")),
          while: (e) => !e.detail.startsWith("the broker exited"),
        }),
        Effect.mapError((e) =>
          e.detail.startsWith("the broker exited")
            ? e
            : new ApacheKafkaError({ step: e.step, detail: `not serving after 120s (${e.detail}); its log:\n${tail(path.join(node.dir, "server.log"))}` }),
        ),
      )

    const startNode = (node: Node) => Effect.sync(() => running.set(node.nodeId, startProcess(node, libs, profile)))
    const stopNode = (nodeId: number, signal: NodeJS.Signals) =>
      Effect.suspend(() => {
        const proc = running.get(nodeId)
        return proc === undefined ? Effect.void : stopProcess(proc, signal, "8 seconds")
      })

    yield* Effect.addFinalizer(() =>
      live(Effect.forEach(nodes, (node) => stopNode(node.nodeId, "SIGTERM"), { concurrency: "unbounded", discard: true })),
    )
    yield* Effect.forEach(nodes, startNode, { discard: true })
    yield* Effect.forEach(nodes, (node) => awaitServing(node, n), { concurrency: "unbounded", discard: true })

    const isRunning = (nodeId: number) => {
      const proc = running.get(nodeId)
      return proc !== undefined && proc.child.exitCode === null && proc.child.signalCode === null
    }
    const cluster: Cluster = {
      version,
      bootstrap: nodes.map((node) => `${node.host}:${node.port}`).join(","),
      brokers: nodes.map((node) => `${node.host}:${node.port}`),
      nodeIds: nodes.map((node) => node.nodeId),
      secureBrokers: nodes.flatMap((node) => (node.securePort === undefined ? [] : [`${node.host}:${node.securePort}`])),
      nodes,
      config: shared,
      isRunning,
      kill: (nodeId) => live(Effect.flatMap(nodeOf(nodeId), (node) => stopNode(node.nodeId, "SIGKILL"))),
      restart: (nodeId) =>
        live(
          Effect.gen(function* () {
            const node = yield* nodeOf(nodeId)
            if (isRunning(nodeId)) yield* stopNode(nodeId, "SIGTERM")
            yield* startNode(node)
            yield* awaitServing(node, 1)
          }),
        ),
    }
    return cluster
  })

/**
 * Apache Kafka for the layer's lifetime.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<ApacheKafka, ApacheKafkaError> =>
  Layer.scoped(ApacheKafka, make(options))

/**
 * Starts Apache Kafka outside any Effect scope (for a test runner's global setup or a command line):
 * resolves with the cluster and a `close` that stops it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = async (options: Options = {}): Promise<{ readonly cluster: Cluster; readonly close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  const exit = await Effect.runPromiseExit(Scope.extend(make(options), scope))
  const close = () => Effect.runPromise(Scope.close(scope, Exit.void))
  if (Exit.isFailure(exit)) {
    await close()
    throw new Error(exit.cause._tag === "Fail" ? exit.cause.error.message : String(exit.cause))
  }
  return { cluster: exit.value, close }
}
