#!/usr/bin/env bash
# Install the Debian tools the tests use beyond the ODBC drivers, when missing: docker-compose, whose parser
# validates docker-compose.yaml (no Docker daemon is needed for `docker-compose config`), and chromium, the
# browser the UI tests drive through Playwright (Debian's package: Playwright never downloads a browser here).
set -euo pipefail
need=()
command -v docker-compose >/dev/null 2>&1 || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
echo "test tools: installing ${need[*]}"
bash "$(dirname "${BASH_SOURCE[0]}")/apt_install.sh" "test tools" "${need[@]}"
