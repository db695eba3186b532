/** CRC-32C (Castagnoli), the checksum of RecordBatch v2: core's, shared with the kafka package's fetch path. */
import { Crc32c } from "@kafka-effect/core"

export const crc32c = Crc32c.crc32c
