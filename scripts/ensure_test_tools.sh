#!/usr/bin/env bash
# Install the Debian tools the tests use beyond the ODBC drivers, when missing: docker-compose, whose parser
# validates docker-compose.yaml (no Docker daemon is needed for `docker-compose config`).
set -euo pipefail
if command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1; then
  exit 0
fi
echo "test tools: installing docker-compose"
bash "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh" "test tools" docker-compose
