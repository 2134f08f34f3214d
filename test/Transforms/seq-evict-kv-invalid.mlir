// Invalid options of seq-evict-kv: an unknown policy is refused by the option
// parser; the others get an error at the first cache.
// RUN: not seqc-opt %s --seq-evict-kv="policy=lru budget=16" 2>&1 | FileCheck %s --check-prefix=POLICY
// RUN: not seqc-opt %s --seq-evict-kv="policy=h2o budget=0" 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not seqc-opt %s --seq-evict-kv="policy=h2o budget=8 sinks=4 recent=4" 2>&1 | FileCheck %s --check-prefix=SMALL
// RUN: not seqc-opt %s --seq-evict-kv="policy=window budget=8 recent=4" 2>&1 | FileCheck %s --check-prefix=RECENT
// POLICY: for the --policy option: Cannot find option named 'lru'!
// ZERO: error: seq-evict-kv: budget must be positive and larger than sinks + recent, got budget=0 sinks=0 recent=0
// SMALL: error: seq-evict-kv: budget must be positive and larger than sinks + recent, got budget=8 sinks=4 recent=4
// RECENT: error: seq-evict-kv: recent=4 applies to the h2o and roco policies

func.func @layer(%s: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32>
  seq.kv_store %c, %s[%c0] : !seq.kv_cache<2x16x64xf32>, memref<?xi8>
  return
}
