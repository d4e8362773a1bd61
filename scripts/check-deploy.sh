#!/usr/bin/env bash
# Validates what cannot run here (no Docker engine): docker-compose.yml is
# parsed and checked by Debian's docker-compose, installed with apt when
# missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing docker-compose (to validate docker-compose.yml)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  else
    echo "error: docker-compose is needed to validate docker-compose.yml (Debian: apt-get install docker-compose)" >&2
    exit 1
  fi
fi
docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml is valid"
