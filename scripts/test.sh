#!/usr/bin/env bash
# Every test: install what is missing, build everything (seqc-opt, the unit
# tests, the generated docs), run the hostile-input checks (the ASan + UBSan
# build in build-fuzz/ over the tests that read untrusted files, and a
# 20-second run of each fuzz harness), then run the lit suite and the unit
# tests through ctest. The closing lines are ctest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -d ../shared/data ]; then
  echo "test: ../shared/data is absent; tests that need it are skipped"
fi
bash scripts/configure.sh build
cmake --build build

# Hostile input (docs/design.md, "Fuzzing and the sanitizer build"): its
# own build directory, so build/ is untouched; a failure here fails the
# command after ctest has run.
hostile=passed
echo "test: hostile-input checks: ASan + UBSan build in build-fuzz/ (clang-22)"
bash scripts/sanitize-tests.sh build-fuzz || hostile=FAILED
echo "test: hostile-input checks: 20 s of each fuzz harness (seed 1)"
SEQC_FUZZ_SEED=1 bash scripts/fuzz.sh 20 || hostile=FAILED
echo "test: hostile-input checks (sanitizer tests, fuzz smoke runs): $hostile"

# The lit suite reports its own count of tests in its ctest log.
ctest --test-dir build --output-on-failure -j2
[ "$hostile" = passed ]
