// Invalid options of seq-compress-kv-cache are pass errors with a location.
// RUN: not seqc-opt %s --seq-compress-kv-cache="key-bits=5" 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not seqc-opt %s --seq-compress-kv-cache="group-size=0" 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not seqc-opt %s --seq-compress-kv-cache="group-size=48 window=48" 2>&1 | FileCheck %s --check-prefix=DIVIDE
// RUN: not seqc-opt %s --seq-compress-kv-cache="sinks=5000" 2>&1 | FileCheck %s --check-prefix=SINKS
// RUN: not seqc-opt %s --seq-compress-kv-cache="window=16" 2>&1 | FileCheck %s --check-prefix=WINDOW

// BITS: seq-compress-kv-cache-invalid.mlir:[[@LINE+6]]:20: error: seq-compress-kv-cache: invalid key-bits=5 (expected 2, 3, 4 or 8)
// GROUP: error: seq-compress-kv-cache: invalid group-size=0 (expected a positive size)
// DIVIDE: seq-compress-kv-cache-invalid.mlir:[[@LINE+4]]:{{[0-9]+}}: error: seq-compress-kv-cache: cannot compress '!seq.kv_cache<8x64x4096xf16>': value encoding group size 48 does not divide head_dim 64
// SINKS: seq-compress-kv-cache-invalid.mlir:[[@LINE+3]]:{{[0-9]+}}: error: seq-compress-kv-cache: cannot compress '!seq.kv_cache<8x64x4096xf16>': KV cache sink tokens (5000) exceed its capacity (4096)
// WINDOW: error: seq-compress-kv-cache: cannot compress '!seq.kv_cache<8x64x4096xf16>': key encoding groups 32 tokens, so the residual window must be a positive multiple of 32, got 16
module {
  func.func @layer(%c: !seq.kv_cache<8x64x4096xf16>) {
    return
  }
}

// A module without caches still rejects invalid options, at its own location.
// RUN: echo "module {}" | not seqc-opt --seq-compress-kv-cache="value-bits=16" 2>&1 | FileCheck %s --check-prefix=NOCACHE
// NOCACHE: error: seq-compress-kv-cache: invalid value-bits=16 (expected 2, 3, 4 or 8)
