#!/usr/bin/env bash
# Installs everything the test suite needs on Debian 12: the servers the tests start themselves (redis-server, nginx),
# headless Chromium for the browser test, the build tools aws-lambda-ric compiles with, then the npm packages.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(redis-server redis-sentinel nginx chromium autoconf automake libtool cmake make g++)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
# The README's SQS example is run with the AWS CLI (any version on PATH will do).
command -v aws >/dev/null 2>&1 || missing+=(awscli)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The Debian nginx and redis packages start system services; the tests run their own on ephemeral ports instead.
for svc in nginx redis-server redis-sentinel; do (systemctl stop "$svc" || service "$svc" stop) >/dev/null 2>&1 || true; done

npm ci
