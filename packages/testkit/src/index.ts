export * as BrokerModel from "./BrokerModel.js"
export * as TestBroker from "./TestBroker.js"
