#!/usr/bin/env bash
# Validates what cannot run here (no Docker engine, no Kubernetes cluster):
# docker-compose.yml is parsed and checked by Debian's docker-compose, and
# the manifests deploy/k8s/*.yaml (with the collector's config and the
# compose file) are linted by Debian's yamllint (config deploy/k8s/.yamllint);
# each tool is installed with apt when missing and we are root.
# deploy/mysql/init.sql is checked by a test instead, against the real
# MariaDB (services/common/tests/mysql_init.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_updated=
# ensure_tool COMMAND PACKAGE WHAT
ensure_tool() {
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing $2 (to validate $3)" >&2
    if [ -z "$apt_updated" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "error: $1 is needed to validate $3 (Debian: apt-get install $2)" >&2
    exit 1
  fi
}

ensure_tool docker-compose docker-compose docker-compose.yml
docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml is valid"

ensure_tool yamllint yamllint "deploy/k8s/*.yaml"
yamllint --strict -c deploy/k8s/.yamllint deploy/k8s/*.yaml deploy/otel-collector.yaml docker-compose.yml
echo "deploy/k8s/*.yaml, deploy/otel-collector.yaml and docker-compose.yml pass yamllint"
