#!/usr/bin/env bash
# The whole test suite, as the README documents it: build, start what the tests need, run vitest,
# stop what was started. Used unchanged by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ]; then npm ci; fi
npm run build
npm run typecheck
npx vitest run "$@"
