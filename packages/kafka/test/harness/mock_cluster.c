/*
 * librdkafka's mock cluster, driven over stdin by the kafka package's tests.
 *
 *   mock_cluster <brokers>
 *
 * Prints "bootstrap <host:port,...>" once the brokers listen, then reads one command per line and
 * answers each with "ok" or "err <reason>" (so the caller can wait for the effect). Exits when
 * stdin closes, so the mock never outlives the test process that started it.
 *
 *   create <topic> <partitions> <replication>
 *   errors <apiKey> <code> [<code> ...]          push request errors (every broker)
 *   broker_errors <broker> <apiKey> <code> ...   push request errors on one broker (rtt 0)
 *   delay <apiKey> <ms> <count>                  the next <count> requests per broker answer after <ms>
 *   clear <apiKey>                               drop pushed errors for apiKey
 *   down <broker> | up <broker>
 *   leader <topic> <partition> <broker>
 *   rtt <broker> <ms>
 *   topic_error <topic> <code>
 *   ping
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_ERRORS 256

static void reply_ok(void) {
  fputs("ok\n", stdout);
  fflush(stdout);
}

static void reply_err(const char *reason) {
  fprintf(stdout, "err %s\n", reason);
  fflush(stdout);
}

static void reply_code(rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) reply_ok();
  else reply_err(rd_kafka_err2name(err));
}

int main(int argc, char **argv) {
  char errstr[512];
  char line[4096];
  int brokers = argc > 1 ? atoi(argv[1]) : 1;
  if (brokers < 1) brokers = 1;

  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  /* The handle only hosts the mock cluster; it never connects anywhere. */
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "conf: %s\n", errstr);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
  if (!mc) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    return 1;
  }
  fprintf(stdout, "bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  while (fgets(line, sizeof(line), stdin)) {
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\r\n", &save);
    if (!cmd) continue;
    if (!strcmp(cmd, "ping")) {
      reply_ok();
    } else if (!strcmp(cmd, "create")) {
      char *topic = strtok_r(NULL, " \t\r\n", &save);
      char *parts = strtok_r(NULL, " \t\r\n", &save);
      char *repl = strtok_r(NULL, " \t\r\n", &save);
      if (!topic || !parts) { reply_err("usage"); continue; }
      reply_code(rd_kafka_mock_topic_create(mc, topic, atoi(parts), repl ? atoi(repl) : 1));
    } else if (!strcmp(cmd, "errors") || !strcmp(cmd, "broker_errors")) {
      int per_broker = !strcmp(cmd, "broker_errors");
      int32_t broker = 0;
      if (per_broker) {
        char *b = strtok_r(NULL, " \t\r\n", &save);
        if (!b) { reply_err("usage"); continue; }
        broker = atoi(b);
      }
      char *api = strtok_r(NULL, " \t\r\n", &save);
      if (!api) { reply_err("usage"); continue; }
      rd_kafka_resp_err_t errs[MAX_ERRORS];
      size_t cnt = 0;
      char *tok;
      while (cnt < MAX_ERRORS && (tok = strtok_r(NULL, " \t\r\n", &save))) errs[cnt++] = (rd_kafka_resp_err_t)atoi(tok);
      if (!per_broker) {
        rd_kafka_mock_push_request_errors_array(mc, (int16_t)atoi(api), cnt, errs);
        reply_ok();
      } else {
        rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
        for (size_t i = 0; i < cnt && !err; i++)
          err = rd_kafka_mock_broker_push_request_error_rtts(mc, broker, (int16_t)atoi(api), 1, errs[i], 0);
        reply_code(err);
      }
    } else if (!strcmp(cmd, "delay")) {
      char *api = strtok_r(NULL, " \t\r\n", &save);
      char *ms = strtok_r(NULL, " \t\r\n", &save);
      char *count = strtok_r(NULL, " \t\r\n", &save);
      if (!api || !ms || !count) { reply_err("usage"); continue; }
      rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
      for (int b = 1; b <= brokers && !err; b++)
        for (int i = 0; i < atoi(count) && !err; i++)
          err = rd_kafka_mock_broker_push_request_error_rtts(mc, b, (int16_t)atoi(api), 1,
                                                             RD_KAFKA_RESP_ERR_NO_ERROR, atoi(ms));
      reply_code(err);
    } else if (!strcmp(cmd, "clear")) {
      char *api = strtok_r(NULL, " \t\r\n", &save);
      if (!api) { reply_err("usage"); continue; }
      rd_kafka_mock_clear_request_errors(mc, (int16_t)atoi(api));
      reply_ok();
    } else if (!strcmp(cmd, "down") || !strcmp(cmd, "up")) {
      char *b = strtok_r(NULL, " \t\r\n", &save);
      if (!b) { reply_err("usage"); continue; }
      reply_code(!strcmp(cmd, "down") ? rd_kafka_mock_broker_set_down(mc, atoi(b))
                                      : rd_kafka_mock_broker_set_up(mc, atoi(b)));
    } else if (!strcmp(cmd, "leader")) {
      char *topic = strtok_r(NULL, " \t\r\n", &save);
      char *part = strtok_r(NULL, " \t\r\n", &save);
      char *b = strtok_r(NULL, " \t\r\n", &save);
      if (!topic || !part || !b) { reply_err("usage"); continue; }
      reply_code(rd_kafka_mock_partition_set_leader(mc, topic, atoi(part), atoi(b)));
    } else if (!strcmp(cmd, "rtt")) {
      char *b = strtok_r(NULL, " \t\r\n", &save);
      char *ms = strtok_r(NULL, " \t\r\n", &save);
      if (!b || !ms) { reply_err("usage"); continue; }
      reply_code(rd_kafka_mock_broker_set_rtt(mc, atoi(b), atoi(ms)));
    } else if (!strcmp(cmd, "topic_error")) {
      char *topic = strtok_r(NULL, " \t\r\n", &save);
      char *code = strtok_r(NULL, " \t\r\n", &save);
      if (!topic || !code) { reply_err("usage"); continue; }
      rd_kafka_mock_topic_set_error(mc, topic, (rd_kafka_resp_err_t)atoi(code));
      reply_ok();
    } else {
      reply_err("unknown-command");
    }
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
