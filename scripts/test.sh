#!/usr/bin/env bash
# Every test: install what is missing, build everything (seqc-opt, the unit
# tests, the generated docs), then run the lit suite and the unit tests
# through ctest. The closing lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -d ../shared/data ]; then
  echo "test: ../shared/data is absent; tests that need it are skipped"
fi
bash scripts/configure.sh build
cmake --build build
# The lit suite reports its own count of tests in its ctest log.
ctest --test-dir build --output-on-failure -j2
