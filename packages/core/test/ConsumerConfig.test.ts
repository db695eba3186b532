import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Layer } from "effect"
import * as Consumer from "../src/Consumer.js"
import * as ConsumerConfig from "../src/ConsumerConfig.js"
import { makeFakeBroker } from "./harness/FakeBroker.js"

describe("ConsumerConfig", () => {
  it.effect("defaults", () =>
    Effect.gen(function* () {
      const config = yield* ConsumerConfig.decode({})
      expect(Duration.toMillis(config.maxWait)).toBe(500)
      expect(Duration.toMillis(config.retryBackoff)).toBe(100)
      expect(config.autoOffsetReset).toBe("latest")
      expect(config.offsetRecovery).toBe("nearest")
    }))

  it.effect("a wrong value fails with InvalidConfig naming the field and the value", () =>
    Effect.gen(function* () {
      const e = yield* Effect.flip(ConsumerConfig.decode({ maxWait: -5 }))
      expect(e._tag).toBe("InvalidConfig")
      expect(e.field).toBe("maxWait")
      expect(e.value).toBe(-5)
      expect(e.message).toContain("maxWait=-5")
      const policy = yield* Effect.flip(ConsumerConfig.decode({ offsetRecovery: "fail" }))
      expect(policy).toMatchObject({ field: "offsetRecovery", value: "fail" })
      const unknown = yield* Effect.flip(ConsumerConfig.decode({ maxWaitMs: 5 }))
      expect(unknown.field).toBe("maxWaitMs")
    }))

  it.effect("Consumer.make fails at start with InvalidConfig", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      const e = yield* Consumer.make({ config: { maxBytes: 0 } }).pipe(
        Effect.provide(broker.layer),
        Effect.scoped,
        Effect.flip,
      )
      expect(e).toMatchObject({ _tag: "InvalidConfig", field: "maxBytes", value: 0 })
    }))

  it.effect("layerConfig reads from the ConfigProvider and validates", () =>
    Effect.gen(function* () {
      const broker = yield* makeFakeBroker
      const build = (map: Map<string, string>) =>
        Effect.gen(function* () {
          const consumer = yield* Consumer.Consumer
          return consumer.config
        }).pipe(
          Effect.provide(
            Consumer.layerConfig().pipe(
              Layer.provide(broker.layer),
              Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(map))),
            ),
          ),
        )
      const ok = yield* build(new Map([["maxWait", "250"], ["retryBackoff", "2 seconds"], ["autoOffsetReset", "earliest"]]))
      expect(Duration.toMillis(ok.maxWait)).toBe(250)
      expect(Duration.toMillis(ok.retryBackoff)).toBe(2000)
      expect(ok.autoOffsetReset).toBe("earliest")
      const bad = yield* Effect.flip(build(new Map([["maxWait", "-5"]])))
      expect(bad).toMatchObject({ _tag: "InvalidConfig", field: "maxWait", value: -5 })
      const notANumber = yield* Effect.flip(build(new Map([["minBytes", "lots"]])))
      expect(notANumber).toMatchObject({ _tag: "InvalidConfig", field: "minBytes", value: "lots" })
    }))
})
