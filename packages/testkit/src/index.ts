export * as TestBroker from "./TestBroker.js"
