export * as KafkaClient from "./KafkaClient.js"
