#!/usr/bin/env bash
# The test suite talks to real protocol peers: real Apache Kafka (its jars come from Maven Central
# through Maven, and it runs on Java 17+), librdkafka's mock cluster (built from a small C program
# against librdkafka-dev), kcat, Debian's Python Kafka clients, and aiokafka from PyPI in a venv the
# suite makes with the first `python3` on PATH (`python3 -m venv` needs ensurepip: Debian's python3
# ships it in python3-venv; a pyenv build has it already). Installs what is missing on
# Debian/Ubuntu (as root, or with sudo); elsewhere says what to install and fails.
set -euo pipefail
missing=()
java_ok() {
  local java=java
  [ -n "${JAVA_HOME:-}" ] && java="$JAVA_HOME/bin/java"
  local v
  v=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  [ -n "$v" ] && [ "${v%%.*}" -ge 17 ]
}
java_ok || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || missing+=(librdkafka-dev)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
/usr/bin/python3 -c 'import kafka' >/dev/null 2>&1 || missing+=(python3-kafka)
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "system-deps: installing ${missing[*]}" >&2
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
else
  echo "system-deps: the test suite needs: ${missing[*]} (Debian names; on macOS: brew install openjdk@17 maven librdkafka kcat, pip install kafka-python confluent-kafka; a python3 with venv)" >&2
  exit 1
fi
