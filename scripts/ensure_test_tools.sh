#!/usr/bin/env bash
# Install the Debian tools the tests use beyond the ODBC drivers, when missing: docker-compose, whose parser
# validates docker-compose.yaml (no Docker daemon is needed for `docker-compose config`).
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; then
  exit 0
fi
echo "test tools: installing docker-compose"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "test tools: need root (or sudo) to install docker-compose" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq docker-compose >/dev/null
