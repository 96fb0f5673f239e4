#!/usr/bin/env bash
# The whole test suite, as the README documents it: install when needed, build, type-check, run vitest.
# Used unchanged by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x node_modules/.bin/vitest ]; then npm ci --no-audit --no-fund; fi
npm run build
npm run typecheck
npx vitest run "$@"
