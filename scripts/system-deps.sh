#!/usr/bin/env bash
# The test suite talks to real protocol peers: librdkafka's mock cluster (built from a small C
# program against librdkafka-dev), kcat, and Debian's Python Kafka clients. Installs what is missing
# on Debian/Ubuntu (as root, or with sudo); elsewhere says what to install and fails.
set -euo pipefail
missing=()
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || missing+=(librdkafka-dev)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing+=(python3-kafka)
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "system-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
else
  echo "system-deps: the test suite needs: ${missing[*]} (Debian names; on macOS: brew install librdkafka kcat, pip install kafka-python confluent-kafka)" >&2
  exit 1
fi
