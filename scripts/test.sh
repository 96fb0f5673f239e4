#!/usr/bin/env bash
# The whole test suite, as the README documents it: install what the tests need when it is missing
# (npm packages — Node 24 itself among them, from the npm `node` package — and Debian's redis-server,
# clickhouse-server, prometheus and chromium), build, type-check, run vitest (browser tests drive Debian's
# Chromium through playwright-core; never a downloaded browser). Tests start their own Redis, ClickHouse
# and Prometheus servers on free loopback ports, with private data directories, and stop them. Used
# unchanged by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
# The project's Node (node_modules/.bin/node) comes first, as it does in every npm script.
export PATH="$PWD/node_modules/.bin:$PATH"

apt_install() {
  local sudo=''
  if [ "$(id -u)" -ne 0 ]; then sudo='sudo'; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v clickhouse-server >/dev/null || missing+=(clickhouse-server)
command -v promtool >/dev/null || missing+=(prometheus)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt_install "${missing[@]}"
  # Debian may start the packaged services on their default ports; the tests do not use them.
  if command -v systemctl >/dev/null; then
    for service in redis-server clickhouse-server prometheus; do
      if systemctl is-active --quiet "$service" 2>/dev/null; then systemctl stop "$service" || true; fi
    done
  fi
fi

# Install when nothing is installed or the lock file changed since the last install.
if [ ! -x node_modules/.bin/node ] || [ ! -x node_modules/.bin/vitest ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
echo "tests run on Node $(node --version)"
npm run build
npm run typecheck
npx vitest run "$@"
