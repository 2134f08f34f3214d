#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) and runs each for SECONDS (default
# 60), one after the other:
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. scripts/fuzz.sh 20 pth gguf
#
# The build directory is build-fuzz/ ($SEQC_FUZZ_BUILD_DIR), configured with
# scripts/configure.sh --fuzz (clang-22; ASan, UBSan, coverage). Seeds are
# regenerated from the project's fixtures (fuzz/make_corpus.py) into
# DIR/fuzz/seeds/; what the fuzzer learns accumulates in DIR/fuzz/corpus/
# across runs; inputs that crash, leak, time out or break a harness's
# contract are written to DIR/fuzz/findings/HARNESS/ and each harness's log
# to DIR/fuzz/logs/. One line per harness gives its executions and
# findings; the exit status is 1 when any harness found something.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
shift || true
case "$SECONDS_EACH" in
'' | *[!0-9]*)
  echo "usage: scripts/fuzz.sh [SECONDS] [HARNESS...]" >&2
  exit 2
  ;;
esac
ALL=(pth safetensors gguf llama-config world-vocab world-text neox-vocab
     neox-text manifest weights-header seq-ir kernels)
HARNESSES=("${@:-${ALL[@]}}")
for h in "${HARNESSES[@]}"; do
  if [[ " ${ALL[*]} " != *" $h "* ]]; then
    echo "fuzz: no harness '$h' (${ALL[*]})" >&2
    exit 2
  fi
done

DIR="${SEQC_FUZZ_BUILD_DIR:-build-fuzz}"
bash scripts/configure.sh --fuzz "$DIR" > /dev/null
targets=()
for h in "${HARNESSES[@]}"; do targets+=("fuzz-$h"); done
cmake --build "$DIR" --target "${targets[@]}"

WORK="$DIR/fuzz"
rm -rf "$WORK/seeds"
/usr/bin/python3 fuzz/make_corpus.py "$WORK/seeds" > "$WORK.seeds.log" 2>&1 ||
  { cat "$WORK.seeds.log"; exit 1; }
mkdir -p "$WORK/logs"
SHARED_DATA="$(cd .. && pwd)/shared/data"

found=0
for h in "${HARNESSES[@]}"; do
  case "$h" in
  world-text | neox-text)
    if [ ! -d "$SHARED_DATA" ]; then
      echo "fuzz: $h: skipped (../shared/data, its vocabulary, is absent)"
      continue
    fi
    ;;
  esac
  mkdir -p "$WORK/corpus/$h" "$WORK/findings/$h"
  log="$WORK/logs/$h.log"
  rc=0
  # -timeout: one input running 10 s is a finding (a hang); -rss_limit_mb:
  # so is one that needs 2 GiB.
  # SEQC_FUZZ_SEED fixes libFuzzer's seed (the test command's smoke runs:
  # the same mutations each run); unset, every run explores afresh.
  "$DIR/bin/fuzz/fuzz-$h" -max_total_time="$SECONDS_EACH" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 ${SEQC_FUZZ_SEED:+-seed=$SEQC_FUZZ_SEED} \
    -artifact_prefix="$WORK/findings/$h/" \
    "$WORK/corpus/$h" "$WORK/seeds/$h" > "$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  inputs=$(find "$WORK/corpus/$h" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    found=1
    echo "fuzz: $h: FINDING after ${execs:-?} executions (exit $rc); input" \
      "in $WORK/findings/$h/, log $log:"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|seqc fuzz:|.*runtime error)' "$log" |
      head -5 | sed 's/^/  /'
  else
    echo "fuzz: $h: ${execs:-?} executions in ${SECONDS_EACH} s, 0 findings" \
      "(corpus: $inputs inputs)"
  fi
done
exit "$found"
