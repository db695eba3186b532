export * as BrokerModel from "./BrokerModel.js"
export * as TestBroker from "./TestBroker.js"
export * as InMemoryCoordinator from "./InMemoryCoordinator.js"
export * as EmbeddedBroker from "./wire/EmbeddedBroker.js"
