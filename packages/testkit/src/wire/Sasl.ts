/**
 * SASL on the embedded broker, server side: PLAIN (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802,
 * RFC 7677) against a table of users, and the per-connection state that decides which requests a
 * connection may send before it has authenticated (as Kafka's `SaslServerAuthenticator`: only
 * ApiVersions and SaslHandshake, then only SaslAuthenticate; anything else closes the connection).
 *
 * Failure messages are Kafka's: PLAIN says why; SCRAM answers one message for an unknown user and
 * a wrong password alike (it must not tell which users exist).
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto"
import { Redacted } from "effect"
import { fromUtf8, utf8 } from "./protocol/Codec.js"

export type Mechanism = "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"

export const mechanisms: ReadonlyArray<Mechanism> = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

export interface Options {
  /** Users and their passwords; each may authenticate with every mechanism offered. */
  readonly users: Readonly<Record<string, Redacted.Redacted<string>>>
  /** The mechanisms offered (Kafka's sasl.enabled.mechanisms). Default: all three. */
  readonly mechanisms?: ReadonlyArray<Mechanism>
}

/** One step of an exchange: a token for the client and whether the client is now authenticated. */
export type Step =
  | { readonly _tag: "Continue"; readonly token: Uint8Array }
  | { readonly _tag: "Authenticated"; readonly token: Uint8Array; readonly principal: string }
  | { readonly _tag: "Failed"; readonly message: string }

/** The server side of one client's exchange: each client token in, the next step out. */
export interface Exchange {
  readonly mechanism: Mechanism
  readonly step: (token: Uint8Array) => Step
}

/** What a connection has done so far. */
export type State =
  /** Before SaslHandshake; `versionsAnswered`: ApiVersions has been answered once (a second closes, as Kafka). */
  | { readonly _tag: "Unauthenticated"; readonly versionsAnswered: boolean }
  /** After SaslHandshake: v1 carries tokens in SaslAuthenticate requests, v0 as bare size-prefixed frames. */
  | { readonly _tag: "Authenticating"; readonly exchange: Exchange; readonly framing: "SaslAuthenticate" | "Raw" }
  | { readonly _tag: "Authenticated"; readonly principal: string }

/** The broker's users and mechanisms, with SCRAM credentials derived once. */
export interface Service {
  readonly mechanisms: ReadonlyArray<Mechanism>
  /** A fresh exchange for a mechanism this broker offers. */
  readonly start: (mechanism: Mechanism) => Exchange
}

/** Kafka's default (and minimum) SCRAM iteration count. */
const ITERATIONS = 4096

type Hash = "sha256" | "sha512"

interface ScramCredential {
  readonly salt: Uint8Array
  readonly storedKey: Uint8Array
  readonly serverKey: Uint8Array
}

const hmac = (hash: Hash, key: Uint8Array, data: Uint8Array | string): Uint8Array => createHmac(hash, key).update(data).digest()
const digest = (hash: Hash, data: Uint8Array): Uint8Array => createHash(hash).update(data).digest()

const scramCredential = (hash: Hash, password: string): ScramCredential => {
  const salt = randomBytes(16)
  const salted = pbkdf2Sync(password, salt, ITERATIONS, hash === "sha256" ? 32 : 64, hash)
  return {
    salt,
    storedKey: digest(hash, hmac(hash, salted, "Client Key")),
    serverKey: hmac(hash, salted, "Server Key"),
  }
}

/** Equal bytes, in time independent of where they differ. */
const same = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && timingSafeEqual(a, b)

const failed = (message: string): Step => ({ _tag: "Failed", message })

const plain = (users: ReadonlyMap<string, Redacted.Redacted<string>>): Exchange => ({
  mechanism: "PLAIN",
  step: (token) => {
    // authzid NUL authcid NUL passwd
    const parts = fromUtf8(token).split("\u0000")
    if (parts.length !== 3) return failed(`Invalid SASL/PLAIN response: expected 3 tokens, got ${parts.length}`)
    const [authorizationId, username, password] = parts
    if (username === "") return failed("Authentication failed: username not specified")
    if (password === "") return failed("Authentication failed: password not specified")
    const expected = users.get(username)
    // Hashes compared, so that neither the length nor the bytes of the password show in the timing.
    const ok = expected !== undefined && same(digest("sha256", utf8(Redacted.value(expected))), digest("sha256", utf8(password)))
    if (!ok) return failed("Authentication failed: Invalid username or password")
    if (authorizationId !== "" && authorizationId !== username) {
      return failed("Authentication failed: Client requested an authorization id that is different from username")
    }
    return { _tag: "Authenticated", token: new Uint8Array(0), principal: username }
  },
})

/** `a=1,b=2` attributes of a SCRAM message. */
const attributes = (message: string): ReadonlyMap<string, string> =>
  new Map(
    message
      .split(",")
      .filter((part) => part.length >= 2 && part[1] === "=")
      .map((part) => [part[0], part.slice(2)]),
  )

/** SCRAM's saslname: "=2C" is a comma, "=3D" an equals sign. */
const saslName = (name: string): string => name.replace(/=2C/g, ",").replace(/=3D/g, "=")

const scram = (mechanism: "SCRAM-SHA-256" | "SCRAM-SHA-512", credentials: ReadonlyMap<string, ScramCredential>): Exchange => {
  const hash: Hash = mechanism === "SCRAM-SHA-256" ? "sha256" : "sha512"
  // Kafka answers an unknown user and a wrong proof alike.
  const invalid = failed(`Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`)
  let first: { readonly bare: string; readonly serverFirst: string; readonly nonce: string; readonly gs2: string; readonly user: string; readonly credential: ScramCredential } | undefined
  return {
    mechanism,
    step: (token) => {
      const message = fromUtf8(token)
      if (first === undefined) {
        // gs2-header ("n,," or "y,," or with "a=authzid"), then the bare message "n=user,r=nonce[,ext]".
        const match = /^([ny]|p=[^,]*),(a=[^,]*)?,(.*)$/.exec(message)
        if (match === null || match[1].startsWith("p=")) return invalid
        const bare = match[3]
        const attrs = attributes(bare)
        const user = attrs.get("n")
        const clientNonce = attrs.get("r")
        if (user === undefined || clientNonce === undefined || clientNonce === "") return invalid
        const username = saslName(user)
        const credential = credentials.get(username)
        if (credential === undefined) return invalid
        const authorizationId = match[2]?.slice(2) ?? ""
        if (authorizationId !== "" && saslName(authorizationId) !== username) {
          return failed("Authentication failed: Client requested an authorization id that is different from username")
        }
        const nonce = clientNonce + randomBytes(18).toString("base64")
        const serverFirst = `r=${nonce},s=${Buffer.from(credential.salt).toString("base64")},i=${ITERATIONS}`
        first = { bare, serverFirst, nonce, gs2: `${match[1]},${match[2] ?? ""},`, user: username, credential }
        return { _tag: "Continue", token: utf8(serverFirst) }
      }
      // client-final: "c=base64(gs2-header),r=nonce[,ext],p=base64(proof)"
      const proofAt = message.lastIndexOf(",p=")
      if (proofAt < 0) return invalid
      const withoutProof = message.slice(0, proofAt)
      const attrs = attributes(withoutProof)
      if (attrs.get("r") !== first.nonce || attrs.get("c") !== Buffer.from(first.gs2).toString("base64")) return invalid
      const proof = Buffer.from(message.slice(proofAt + 3), "base64")
      const authMessage = `${first.bare},${first.serverFirst},${withoutProof}`
      const clientSignature = hmac(hash, first.credential.storedKey, authMessage)
      if (proof.byteLength !== clientSignature.byteLength) return invalid
      const clientKey = proof.map((b, i) => b ^ clientSignature[i])
      if (!same(digest(hash, clientKey), first.credential.storedKey)) return invalid
      const serverSignature = hmac(hash, first.credential.serverKey, authMessage)
      return { _tag: "Authenticated", token: utf8(`v=${Buffer.from(serverSignature).toString("base64")}`), principal: first.user }
    },
  }
}

/** The broker's SASL service from its options: SCRAM credentials (salt, stored and server keys) derived here, once. */
export const make = (options: Options): Service => {
  const offered = options.mechanisms ?? mechanisms
  const users = new Map(Object.entries(options.users))
  const credentials = (hash: Hash) =>
    new Map(Array.from(users, ([name, password]) => [name, scramCredential(hash, Redacted.value(password))]))
  const sha256 = offered.includes("SCRAM-SHA-256") ? credentials("sha256") : new Map<string, ScramCredential>()
  const sha512 = offered.includes("SCRAM-SHA-512") ? credentials("sha512") : new Map<string, ScramCredential>()
  return {
    mechanisms: offered,
    start: (mechanism) =>
      mechanism === "PLAIN" ? plain(users) : scram(mechanism, mechanism === "SCRAM-SHA-256" ? sha256 : sha512),
  }
}

export const isMechanism = (name: string): name is Mechanism => mechanisms.some((m) => m === name)
