import { conformance } from "../src/Conformance.js"
import * as TestBroker from "../src/TestBroker.js"

conformance("in-memory broker (TestClock)", TestBroker.layer())
