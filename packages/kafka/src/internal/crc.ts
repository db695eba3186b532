/**
 * CRC-32C of fetched record batches: the native one of `@node-rs/crc32` (SSE 4.2 / ARMv8 CRC
 * instructions through a prebuilt N-API binary) where its binary loads on this platform and gives
 * the right answer, else core's slicing-by-8 `Crc32c` in JavaScript. Chosen once, at load.
 */
import { Crc32c } from "@kafka-effect/core"
import { createRequire } from "node:module"

type NativeCrc32c = (input: Buffer, initialState?: number) => number

const isNative = (f: unknown): f is NativeCrc32c => typeof f === "function"

/** The check value of CRC-32C: the CRC of the nine ASCII bytes "123456789". */
const CHECK_INPUT = "123456789"
const CHECK_VALUE = 0xe3069283

const loadNative = (): NativeCrc32c | undefined => {
  try {
    const module: unknown = createRequire(import.meta.url)("@node-rs/crc32")
    if (typeof module !== "object" || module === null || !("crc32c" in module)) return undefined
    const f = module.crc32c
    if (!isNative(f)) return undefined
    return f(Buffer.from(CHECK_INPUT, "latin1")) >>> 0 === CHECK_VALUE ? f : undefined
  } catch {
    // No prebuilt binary for this platform (or it does not load): the JavaScript one.
    return undefined
  }
}

const native = loadNative()

/** The native implementation over `bytes[start, end)` through a Buffer view (no copy), when it loaded. */
export const nativeCrc32c: ((bytes: Uint8Array, start?: number, end?: number) => number) | undefined =
  native === undefined
    ? undefined
    : (bytes, start = 0, end = bytes.length) => native(Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start)) >>> 0

/** The CRC-32C of `bytes[start, end)`, an unsigned 32-bit number, without copying the range. */
export const crc32c: (bytes: Uint8Array, start?: number, end?: number) => number = nativeCrc32c ?? Crc32c.crc32c

/** Which implementation `crc32c` uses on this machine. */
export const implementation: "native" | "javascript" = nativeCrc32c === undefined ? "javascript" : "native"
