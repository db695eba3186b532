/**
 * Kafka's protocol error codes, each defined once: the code, its name as the protocol spells it, and
 * whether Kafka calls it retriable (its exception is a `RetriableException`). Everything else refers
 * to the name (`ErrorCode.NOT_COORDINATOR`), never to the bare number: core's group errors, the kafka
 * package's mapping of kafkajs errors and the testkit's brokers.
 *
 * `retriable` here is Kafka's flag for the code. A tagged error may say otherwise for its own reason:
 * `RebalanceInProgress` is not retriable in Kafka's table, yet the membership retries it by rejoining.
 *
 * @since 0.1.0
 */

/**
 * An error code of Kafka's protocol: the number, its protocol name, and whether Kafka calls it retriable.
 *
 * @since 0.1.0
 * @category models
 */
export interface Info {
  readonly code: number
  readonly name: string
  readonly retriable: boolean
}

const byCode = new Map<number, Info>()
const byName = new Map<string, Info>()

// Registers a code and hands back its literal number, so each code is written on one line.
const define = <C extends number>(code: C, name: string, retriable: boolean): C => {
  const info: Info = { code, name, retriable }
  byCode.set(code, info)
  byName.set(name, info)
  return code
}

/**
 * Kafka error code -1, `UNKNOWN_SERVER_ERROR`.
 *
 * @since 0.1.0
 * @category codes
 */
export const UNKNOWN_SERVER_ERROR = define(-1, "UNKNOWN_SERVER_ERROR", false)
/**
 * Kafka error code 0, `NONE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const NONE = define(0, "NONE", false)
/**
 * Kafka error code 1, `OFFSET_OUT_OF_RANGE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const OFFSET_OUT_OF_RANGE = define(1, "OFFSET_OUT_OF_RANGE", false)
/**
 * Kafka error code 2, `CORRUPT_MESSAGE` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const CORRUPT_MESSAGE = define(2, "CORRUPT_MESSAGE", true)
/**
 * Kafka error code 3, `UNKNOWN_TOPIC_OR_PARTITION` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const UNKNOWN_TOPIC_OR_PARTITION = define(3, "UNKNOWN_TOPIC_OR_PARTITION", true)
/**
 * Kafka error code 4, `INVALID_FETCH_SIZE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_FETCH_SIZE = define(4, "INVALID_FETCH_SIZE", false)
/**
 * Kafka error code 5, `LEADER_NOT_AVAILABLE` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const LEADER_NOT_AVAILABLE = define(5, "LEADER_NOT_AVAILABLE", true)
/**
 * Kafka error code 6, `NOT_LEADER_OR_FOLLOWER` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const NOT_LEADER_OR_FOLLOWER = define(6, "NOT_LEADER_OR_FOLLOWER", true)
/**
 * Kafka error code 7, `REQUEST_TIMED_OUT` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const REQUEST_TIMED_OUT = define(7, "REQUEST_TIMED_OUT", true)
/**
 * Kafka error code 8, `BROKER_NOT_AVAILABLE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const BROKER_NOT_AVAILABLE = define(8, "BROKER_NOT_AVAILABLE", false)
/**
 * Kafka error code 9, `REPLICA_NOT_AVAILABLE` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const REPLICA_NOT_AVAILABLE = define(9, "REPLICA_NOT_AVAILABLE", true)
/**
 * Kafka error code 10, `MESSAGE_TOO_LARGE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const MESSAGE_TOO_LARGE = define(10, "MESSAGE_TOO_LARGE", false)
/**
 * Kafka error code 11, `STALE_CONTROLLER_EPOCH`.
 *
 * @since 0.1.0
 * @category codes
 */
export const STALE_CONTROLLER_EPOCH = define(11, "STALE_CONTROLLER_EPOCH", false)
/**
 * Kafka error code 12, `OFFSET_METADATA_TOO_LARGE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const OFFSET_METADATA_TOO_LARGE = define(12, "OFFSET_METADATA_TOO_LARGE", false)
/**
 * Kafka error code 13, `NETWORK_EXCEPTION` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const NETWORK_EXCEPTION = define(13, "NETWORK_EXCEPTION", true)
/**
 * Kafka error code 14, `COORDINATOR_LOAD_IN_PROGRESS` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const COORDINATOR_LOAD_IN_PROGRESS = define(14, "COORDINATOR_LOAD_IN_PROGRESS", true)
/**
 * Kafka error code 15, `COORDINATOR_NOT_AVAILABLE` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const COORDINATOR_NOT_AVAILABLE = define(15, "COORDINATOR_NOT_AVAILABLE", true)
/**
 * Kafka error code 16, `NOT_COORDINATOR` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const NOT_COORDINATOR = define(16, "NOT_COORDINATOR", true)
/**
 * Kafka error code 17, `INVALID_TOPIC_EXCEPTION`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_TOPIC_EXCEPTION = define(17, "INVALID_TOPIC_EXCEPTION", false)
/**
 * Kafka error code 18, `RECORD_LIST_TOO_LARGE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const RECORD_LIST_TOO_LARGE = define(18, "RECORD_LIST_TOO_LARGE", false)
/**
 * Kafka error code 19, `NOT_ENOUGH_REPLICAS` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const NOT_ENOUGH_REPLICAS = define(19, "NOT_ENOUGH_REPLICAS", true)
/**
 * Kafka error code 20, `NOT_ENOUGH_REPLICAS_AFTER_APPEND` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const NOT_ENOUGH_REPLICAS_AFTER_APPEND = define(20, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true)
/**
 * Kafka error code 21, `INVALID_REQUIRED_ACKS`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_REQUIRED_ACKS = define(21, "INVALID_REQUIRED_ACKS", false)
/**
 * Kafka error code 22, `ILLEGAL_GENERATION`.
 *
 * @since 0.1.0
 * @category codes
 */
export const ILLEGAL_GENERATION = define(22, "ILLEGAL_GENERATION", false)
/**
 * Kafka error code 23, `INCONSISTENT_GROUP_PROTOCOL`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INCONSISTENT_GROUP_PROTOCOL = define(23, "INCONSISTENT_GROUP_PROTOCOL", false)
/**
 * Kafka error code 24, `INVALID_GROUP_ID`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_GROUP_ID = define(24, "INVALID_GROUP_ID", false)
/**
 * Kafka error code 25, `UNKNOWN_MEMBER_ID`.
 *
 * @since 0.1.0
 * @category codes
 */
export const UNKNOWN_MEMBER_ID = define(25, "UNKNOWN_MEMBER_ID", false)
/**
 * Kafka error code 26, `INVALID_SESSION_TIMEOUT`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_SESSION_TIMEOUT = define(26, "INVALID_SESSION_TIMEOUT", false)
/**
 * Kafka error code 27, `REBALANCE_IN_PROGRESS`.
 *
 * @since 0.1.0
 * @category codes
 */
export const REBALANCE_IN_PROGRESS = define(27, "REBALANCE_IN_PROGRESS", false)
/**
 * Kafka error code 28, `INVALID_COMMIT_OFFSET_SIZE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_COMMIT_OFFSET_SIZE = define(28, "INVALID_COMMIT_OFFSET_SIZE", false)
/**
 * Kafka error code 29, `TOPIC_AUTHORIZATION_FAILED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const TOPIC_AUTHORIZATION_FAILED = define(29, "TOPIC_AUTHORIZATION_FAILED", false)
/**
 * Kafka error code 30, `GROUP_AUTHORIZATION_FAILED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const GROUP_AUTHORIZATION_FAILED = define(30, "GROUP_AUTHORIZATION_FAILED", false)
/**
 * Kafka error code 31, `CLUSTER_AUTHORIZATION_FAILED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const CLUSTER_AUTHORIZATION_FAILED = define(31, "CLUSTER_AUTHORIZATION_FAILED", false)
/**
 * Kafka error code 32, `INVALID_TIMESTAMP`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_TIMESTAMP = define(32, "INVALID_TIMESTAMP", false)
/**
 * Kafka error code 33, `UNSUPPORTED_SASL_MECHANISM`.
 *
 * @since 0.1.0
 * @category codes
 */
export const UNSUPPORTED_SASL_MECHANISM = define(33, "UNSUPPORTED_SASL_MECHANISM", false)
/**
 * Kafka error code 34, `ILLEGAL_SASL_STATE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const ILLEGAL_SASL_STATE = define(34, "ILLEGAL_SASL_STATE", false)
/**
 * Kafka error code 35, `UNSUPPORTED_VERSION`.
 *
 * @since 0.1.0
 * @category codes
 */
export const UNSUPPORTED_VERSION = define(35, "UNSUPPORTED_VERSION", false)
/**
 * Kafka error code 36, `TOPIC_ALREADY_EXISTS`.
 *
 * @since 0.1.0
 * @category codes
 */
export const TOPIC_ALREADY_EXISTS = define(36, "TOPIC_ALREADY_EXISTS", false)
/**
 * Kafka error code 37, `INVALID_PARTITIONS`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_PARTITIONS = define(37, "INVALID_PARTITIONS", false)
/**
 * Kafka error code 38, `INVALID_REPLICATION_FACTOR`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_REPLICATION_FACTOR = define(38, "INVALID_REPLICATION_FACTOR", false)
/**
 * Kafka error code 39, `INVALID_REPLICA_ASSIGNMENT`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_REPLICA_ASSIGNMENT = define(39, "INVALID_REPLICA_ASSIGNMENT", false)
/**
 * Kafka error code 40, `INVALID_CONFIG`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_CONFIG = define(40, "INVALID_CONFIG", false)
/**
 * Kafka error code 41, `NOT_CONTROLLER` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const NOT_CONTROLLER = define(41, "NOT_CONTROLLER", true)
/**
 * Kafka error code 42, `INVALID_REQUEST`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_REQUEST = define(42, "INVALID_REQUEST", false)
/**
 * Kafka error code 43, `UNSUPPORTED_FOR_MESSAGE_FORMAT`.
 *
 * @since 0.1.0
 * @category codes
 */
export const UNSUPPORTED_FOR_MESSAGE_FORMAT = define(43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false)
/**
 * Kafka error code 44, `POLICY_VIOLATION`.
 *
 * @since 0.1.0
 * @category codes
 */
export const POLICY_VIOLATION = define(44, "POLICY_VIOLATION", false)
/**
 * Kafka error code 45, `OUT_OF_ORDER_SEQUENCE_NUMBER`.
 *
 * @since 0.1.0
 * @category codes
 */
export const OUT_OF_ORDER_SEQUENCE_NUMBER = define(45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false)
/**
 * Kafka error code 46, `DUPLICATE_SEQUENCE_NUMBER`.
 *
 * @since 0.1.0
 * @category codes
 */
export const DUPLICATE_SEQUENCE_NUMBER = define(46, "DUPLICATE_SEQUENCE_NUMBER", false)
/**
 * Kafka error code 47, `INVALID_PRODUCER_EPOCH`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_PRODUCER_EPOCH = define(47, "INVALID_PRODUCER_EPOCH", false)
/**
 * Kafka error code 48, `INVALID_TXN_STATE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_TXN_STATE = define(48, "INVALID_TXN_STATE", false)
/**
 * Kafka error code 49, `INVALID_PRODUCER_ID_MAPPING`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_PRODUCER_ID_MAPPING = define(49, "INVALID_PRODUCER_ID_MAPPING", false)
/**
 * Kafka error code 50, `INVALID_TRANSACTION_TIMEOUT`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_TRANSACTION_TIMEOUT = define(50, "INVALID_TRANSACTION_TIMEOUT", false)
/**
 * Kafka error code 51, `CONCURRENT_TRANSACTIONS` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const CONCURRENT_TRANSACTIONS = define(51, "CONCURRENT_TRANSACTIONS", true)
/**
 * Kafka error code 52, `TRANSACTION_COORDINATOR_FENCED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const TRANSACTION_COORDINATOR_FENCED = define(52, "TRANSACTION_COORDINATOR_FENCED", false)
/**
 * Kafka error code 53, `TRANSACTIONAL_ID_AUTHORIZATION_FAILED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const TRANSACTIONAL_ID_AUTHORIZATION_FAILED = define(53, "TRANSACTIONAL_ID_AUTHORIZATION_FAILED", false)
/**
 * Kafka error code 54, `SECURITY_DISABLED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const SECURITY_DISABLED = define(54, "SECURITY_DISABLED", false)
/**
 * Kafka error code 55, `OPERATION_NOT_ATTEMPTED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const OPERATION_NOT_ATTEMPTED = define(55, "OPERATION_NOT_ATTEMPTED", false)
/**
 * Kafka error code 56, `KAFKA_STORAGE_ERROR` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const KAFKA_STORAGE_ERROR = define(56, "KAFKA_STORAGE_ERROR", true)
/**
 * Kafka error code 57, `LOG_DIR_NOT_FOUND`.
 *
 * @since 0.1.0
 * @category codes
 */
export const LOG_DIR_NOT_FOUND = define(57, "LOG_DIR_NOT_FOUND", false)
/**
 * Kafka error code 58, `SASL_AUTHENTICATION_FAILED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const SASL_AUTHENTICATION_FAILED = define(58, "SASL_AUTHENTICATION_FAILED", false)
/**
 * Kafka error code 59, `UNKNOWN_PRODUCER_ID`.
 *
 * @since 0.1.0
 * @category codes
 */
export const UNKNOWN_PRODUCER_ID = define(59, "UNKNOWN_PRODUCER_ID", false)
/**
 * Kafka error code 60, `REASSIGNMENT_IN_PROGRESS`.
 *
 * @since 0.1.0
 * @category codes
 */
export const REASSIGNMENT_IN_PROGRESS = define(60, "REASSIGNMENT_IN_PROGRESS", false)
/**
 * Kafka error code 61, `DELEGATION_TOKEN_AUTH_DISABLED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const DELEGATION_TOKEN_AUTH_DISABLED = define(61, "DELEGATION_TOKEN_AUTH_DISABLED", false)
/**
 * Kafka error code 62, `DELEGATION_TOKEN_NOT_FOUND`.
 *
 * @since 0.1.0
 * @category codes
 */
export const DELEGATION_TOKEN_NOT_FOUND = define(62, "DELEGATION_TOKEN_NOT_FOUND", false)
/**
 * Kafka error code 63, `DELEGATION_TOKEN_OWNER_MISMATCH`.
 *
 * @since 0.1.0
 * @category codes
 */
export const DELEGATION_TOKEN_OWNER_MISMATCH = define(63, "DELEGATION_TOKEN_OWNER_MISMATCH", false)
/**
 * Kafka error code 64, `DELEGATION_TOKEN_REQUEST_NOT_ALLOWED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const DELEGATION_TOKEN_REQUEST_NOT_ALLOWED = define(64, "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED", false)
/**
 * Kafka error code 65, `DELEGATION_TOKEN_AUTHORIZATION_FAILED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const DELEGATION_TOKEN_AUTHORIZATION_FAILED = define(65, "DELEGATION_TOKEN_AUTHORIZATION_FAILED", false)
/**
 * Kafka error code 66, `DELEGATION_TOKEN_EXPIRED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const DELEGATION_TOKEN_EXPIRED = define(66, "DELEGATION_TOKEN_EXPIRED", false)
/**
 * Kafka error code 67, `INVALID_PRINCIPAL_TYPE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_PRINCIPAL_TYPE = define(67, "INVALID_PRINCIPAL_TYPE", false)
/**
 * Kafka error code 68, `NON_EMPTY_GROUP`.
 *
 * @since 0.1.0
 * @category codes
 */
export const NON_EMPTY_GROUP = define(68, "NON_EMPTY_GROUP", false)
/**
 * Kafka error code 69, `GROUP_ID_NOT_FOUND`.
 *
 * @since 0.1.0
 * @category codes
 */
export const GROUP_ID_NOT_FOUND = define(69, "GROUP_ID_NOT_FOUND", false)
/**
 * Kafka error code 70, `FETCH_SESSION_ID_NOT_FOUND` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const FETCH_SESSION_ID_NOT_FOUND = define(70, "FETCH_SESSION_ID_NOT_FOUND", true)
/**
 * Kafka error code 71, `INVALID_FETCH_SESSION_EPOCH` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_FETCH_SESSION_EPOCH = define(71, "INVALID_FETCH_SESSION_EPOCH", true)
/**
 * Kafka error code 72, `LISTENER_NOT_FOUND` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const LISTENER_NOT_FOUND = define(72, "LISTENER_NOT_FOUND", true)
/**
 * Kafka error code 73, `TOPIC_DELETION_DISABLED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const TOPIC_DELETION_DISABLED = define(73, "TOPIC_DELETION_DISABLED", false)
/**
 * Kafka error code 74, `FENCED_LEADER_EPOCH` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const FENCED_LEADER_EPOCH = define(74, "FENCED_LEADER_EPOCH", true)
/**
 * Kafka error code 75, `UNKNOWN_LEADER_EPOCH` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const UNKNOWN_LEADER_EPOCH = define(75, "UNKNOWN_LEADER_EPOCH", true)
/**
 * Kafka error code 76, `UNSUPPORTED_COMPRESSION_TYPE`.
 *
 * @since 0.1.0
 * @category codes
 */
export const UNSUPPORTED_COMPRESSION_TYPE = define(76, "UNSUPPORTED_COMPRESSION_TYPE", false)
/**
 * Kafka error code 77, `STALE_BROKER_EPOCH`.
 *
 * @since 0.1.0
 * @category codes
 */
export const STALE_BROKER_EPOCH = define(77, "STALE_BROKER_EPOCH", false)
/**
 * Kafka error code 78, `OFFSET_NOT_AVAILABLE` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const OFFSET_NOT_AVAILABLE = define(78, "OFFSET_NOT_AVAILABLE", true)
/**
 * Kafka error code 79, `MEMBER_ID_REQUIRED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const MEMBER_ID_REQUIRED = define(79, "MEMBER_ID_REQUIRED", false)
/**
 * Kafka error code 80, `PREFERRED_LEADER_NOT_AVAILABLE` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const PREFERRED_LEADER_NOT_AVAILABLE = define(80, "PREFERRED_LEADER_NOT_AVAILABLE", true)
/**
 * Kafka error code 81, `GROUP_MAX_SIZE_REACHED`.
 *
 * @since 0.1.0
 * @category codes
 */
export const GROUP_MAX_SIZE_REACHED = define(81, "GROUP_MAX_SIZE_REACHED", false)
/**
 * Kafka error code 82, `FENCED_INSTANCE_ID`.
 *
 * @since 0.1.0
 * @category codes
 */
export const FENCED_INSTANCE_ID = define(82, "FENCED_INSTANCE_ID", false)
/**
 * Kafka error code 83, `ELIGIBLE_LEADERS_NOT_AVAILABLE` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const ELIGIBLE_LEADERS_NOT_AVAILABLE = define(83, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true)
/**
 * Kafka error code 84, `ELECTION_NOT_NEEDED` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const ELECTION_NOT_NEEDED = define(84, "ELECTION_NOT_NEEDED", true)
/**
 * Kafka error code 85, `NO_REASSIGNMENT_IN_PROGRESS`.
 *
 * @since 0.1.0
 * @category codes
 */
export const NO_REASSIGNMENT_IN_PROGRESS = define(85, "NO_REASSIGNMENT_IN_PROGRESS", false)
/**
 * Kafka error code 86, `GROUP_SUBSCRIBED_TO_TOPIC`.
 *
 * @since 0.1.0
 * @category codes
 */
export const GROUP_SUBSCRIBED_TO_TOPIC = define(86, "GROUP_SUBSCRIBED_TO_TOPIC", false)
/**
 * Kafka error code 87, `INVALID_RECORD`.
 *
 * @since 0.1.0
 * @category codes
 */
export const INVALID_RECORD = define(87, "INVALID_RECORD", false)
/**
 * Kafka error code 88, `UNSTABLE_OFFSET_COMMIT` (retriable).
 *
 * @since 0.1.0
 * @category codes
 */
export const UNSTABLE_OFFSET_COMMIT = define(88, "UNSTABLE_OFFSET_COMMIT", true)

/**
 * Every code above, in code order.
 *
 * @since 0.1.0
 * @category lookups
 */
export const all: ReadonlyArray<Info> = [...byCode.values()].sort((a, b) => a.code - b.code)

/**
 * The code's name and flag; a code this table does not know is `UNKNOWN_ERROR_CODE_<n>`, not retriable.
 *
 * @example
 * import { ErrorCode } from "@kafka-effect/core"
 *
 * assert.deepStrictEqual(ErrorCode.info(ErrorCode.OFFSET_OUT_OF_RANGE), { code: 1, name: "OFFSET_OUT_OF_RANGE", retriable: false })
 * assert.strictEqual(ErrorCode.info(9999).name, "UNKNOWN_ERROR_CODE_9999")
 *
 * @since 0.1.0
 * @category lookups
 */
export const info = (code: number): Info => byCode.get(code) ?? { code, name: `UNKNOWN_ERROR_CODE_${code}`, retriable: false }

/**
 * The code's name as the protocol spells it (`UNKNOWN_ERROR_CODE_<n>` for a code not in the table).
 *
 * @since 0.1.0
 * @category lookups
 */
export const name = (code: number): string => info(code).name

/**
 * Whether Kafka calls the code retriable (false for a code not in the table).
 *
 * @since 0.1.0
 * @category lookups
 */
export const isRetriable = (code: number): boolean => info(code).retriable

/**
 * The code with this protocol name, if there is one.
 *
 * @since 0.1.0
 * @category lookups
 */
export const fromName = (name: string): Info | undefined => byName.get(name)
