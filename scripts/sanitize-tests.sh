#!/usr/bin/env bash
# Builds seqc with AddressSanitizer and UndefinedBehaviorSanitizer (clang-22)
# in its own directory and runs the tests that read hostile input under it:
# the unit tests and the importer, tokenizer, runtime and hostile-input
# integration tests. Any sanitizer report fails the test that triggered it.
#
#   scripts/sanitize-tests.sh [DIR]     (default build-fuzz/)
#
# DIR is configured with scripts/configure.sh --fuzz: the sanitizer build
# plus libFuzzer's coverage instrumentation, so that one extra build serves
# both this script and scripts/fuzz.sh (the instrumentation changes no
# result). A DIR configured with --sanitize works the same.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${1:-build-fuzz}"
if [ ! -f "$DIR/build.ninja" ]; then
  bash scripts/configure.sh --fuzz "$DIR" > /dev/null
fi
# seqc-cuda-run too: lit requires it (it reports a missing CUDA driver).
cmake --build "$DIR" --target seqc seqc-opt seqc-run seqc-cuda-run \
  SeqcUnitTests SeqcCompilerTests SeqcRuntimeTests

# The tests, by what they read: checkpoints and configs (import), tokenizer
# files and text, artifacts (runtime), and the hostile-input suites. The
# numeric end-to-end tests (llama-random, rwkv4-random, gguf-quant) pass
# under the sanitizers too but take 1-3 minutes each there; they are left
# to a manual run (docs/design.md has the times).
TESTS=(
  test/Dialect/Seq
  test/Integration/hostile
  test/Integration/cpu/hostile
  test/Integration/tokenizer
  test/Integration/runtime
  test/Integration/cpu/rwkv/bad-input.test
  test/Integration/cpu/rwkv/import.test
  test/Integration/cpu/rwkv/rwkv5-early.test
  test/Integration/cpu/rwkv/runtime.test
  test/Integration/cpu/llama/bad-input.test
  test/Integration/cpu/llama/deep-json.test
  test/Integration/cpu/spikegpt/bad-input.test
)
lit_args=()
for t in "${TESTS[@]}"; do lit_args+=("$DIR/$t"); done
rc=0
for t in SeqcUnitTests SeqcCompilerTests; do
  out=$("$DIR/bin/$t" --gtest_brief=1 2>&1) || { rc=1; printf '%s\n' "$out"; }
  echo "sanitize: $t: $(printf '%s\n' "$out" | tail -1)"
done
/usr/lib/llvm-22/bin/lit -s "${lit_args[@]}" || rc=1
echo "sanitize: $([ "$rc" = 0 ] && echo passed || echo FAILED) under ASan + UBSan"
exit "$rc"
