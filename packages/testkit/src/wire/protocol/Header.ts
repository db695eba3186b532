/** Request and response headers. */
import { ApiKey, isFlexible } from "./ApiKeys.js"
import type { Reader, Writer } from "./Codec.js"

export interface RequestHeader {
  readonly apiKey: number
  readonly apiVersion: number
  readonly correlationId: number
  readonly clientId: string | null
}

/**
 * Header v1 (v2 for flexible versions: plus a tagged-field section). The client id stays a classic
 * nullable string in v2.
 */
export const decodeRequestHeader = (r: Reader): RequestHeader => {
  const apiKey = r.int16()
  const apiVersion = r.int16()
  const correlationId = r.int32()
  const clientId = r.nullableString()
  if (isFlexible(apiKey, apiVersion)) r.taggedFields()
  return { apiKey, apiVersion, correlationId, clientId }
}

/** Response header v0, or v1 (tagged fields) for flexible versions; ApiVersions always uses v0. */
export const encodeResponseHeader = (w: Writer, apiKey: number, apiVersion: number, correlationId: number): void => {
  w.int32(correlationId)
  if (apiKey !== ApiKey.ApiVersions && isFlexible(apiKey, apiVersion)) w.emptyTags()
}

/** Closes a struct being read: its tagged-field section in flexible versions. */
export const endStruct = (r: Reader, f: boolean): void => {
  if (f) r.taggedFields()
}
