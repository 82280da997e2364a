#!/usr/bin/env bash
# Install Debian packages (as root, or through sudo): scripts/apt_install.sh <what for> <package>...
set -euo pipefail
what="$1"
shift
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "$what: need root (or sudo) to install $*" >&2; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
