// seq-select-kv refuses caches that are not plain, and bad options.
// RUN: not seqc-opt %s --seq-select-kv="keep=16" 2>&1 | FileCheck %s --check-prefix=ERR
// ERR: error: seq-select-kv: selects rows of plain caches (full precision, every token at its row); '!seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>' is not
// RUN: not seqc-opt %s --seq-select-kv="keep=8 rate=0.5" 2>&1 | FileCheck %s --check-prefix=BOTH
// BOTH: error: seq-select-kv: set one of keep (rows per KV head) and rate (a fraction in (0, 1]); got keep=8 rate=0.5
// RUN: not seqc-opt %s --seq-select-kv="keep=8" 2>&1 | FileCheck %s --check-prefix=SMALL
// SMALL: error: seq-select-kv: window must be positive and keep above it (the window is always kept); got keep=8 window=8
// RUN: not seqc-opt %s --seq-select-kv="keep=16 kernel=4" 2>&1 | FileCheck %s --check-prefix=KERNEL
// KERNEL: error: seq-select-kv: kernel must be odd and positive, got 4
func.func @scored(%s: memref<?xi8>, %q: tensor<?x2x16xf32>, %k: tensor<?x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %s[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %a : tensor<?x2x16xf32>, !seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>
  seq.kv_store %c2, %s[%c0] : !seq.kv_cache<2x16x64xf32, sinks = 2, window = 4, evict = h2o, budget = 16>, memref<?xi8>
  return
}
