#!/usr/bin/env bash
# The whole test suite, as the README documents it: install what the tests need when it is missing
# (npm packages; Debian's redis-server), build, type-check, run vitest. Tests start their own
# redis-server processes on free loopback ports and stop them. Used unchanged by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_install() {
  local sudo=''
  if [ "$(id -u)" -ne 0 ]; then sudo='sudo'; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt_install "${missing[@]}"
  # Debian starts the packaged service on the default port; the tests do not use it.
  if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then systemctl stop redis-server || true; fi
fi

if [ ! -x node_modules/.bin/vitest ]; then npm ci --no-audit --no-fund; fi
npm run build
npm run typecheck
npx vitest run "$@"
