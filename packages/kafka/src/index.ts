export * as KafkaClient from "./KafkaClient.js"
export * as GroupCoordinatorLive from "./group/GroupCoordinatorLive.js"
export * as Producer from "./Producer.js"
