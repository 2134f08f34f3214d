// RUN: seqc-opt %s --convert-seq-kv-to-loops --split-input-file --verify-diagnostics

// Caches are updated in place: a cache may not be used after an update.
func.func @reused(%state: memref<?xi8>, %k: tensor<1x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x32xf32>
  // expected-error @+1 {{updates a cache that is used again afterwards}}
  %c1 = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x32xf32>, tensor<1x2x16xf32>
  %c2 = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x32xf32>, tensor<1x2x16xf32>
  seq.kv_store %c1, %state[%c0] : !seq.kv_cache<2x16x32xf32>, memref<?xi8>
  return
}

// -----

func.func @other_slot(%state: memref<?xi8>, %k: tensor<1x2x16xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x32xf32>
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x32xf32>, tensor<1x2x16xf32>
  // expected-error @+1 {{stores a cache to a slot other than the one it was loaded from}}
  seq.kv_store %a, %state[%c1] : !seq.kv_cache<2x16x32xf32>, memref<?xi8>
  return
}

// -----

func.func @argument(%c: !seq.kv_cache<2x16x32xf32>, %k: tensor<1x2x16xf32>) -> !seq.kv_cache<2x16x32xf32> {
  // expected-error @+1 {{operates on a cache that does not come from seq.kv_load}}
  %a = seq.kv_append %c, %k, %k : !seq.kv_cache<2x16x32xf32>, tensor<1x2x16xf32>
  return %a : !seq.kv_cache<2x16x32xf32>
}

// -----

// Keys quantized, values not: not a layout the lowering has.
!half = !seq.kv_cache<2x16x32xf32, keys = #seq.quant<bits = 4, group = 8, axis = 0, asymmetric>, window = 8>
func.func @half(%state: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{needs both keys and values quantized, or neither}}
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !half
  seq.kv_store %c, %state[%c0] : !half, memref<?xi8>
  return
}

// -----

func.func @evict(%state: memref<?xi8>) {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !seq.kv_cache<2x16x32xf32>
  // expected-error @+1 {{is not lowered by convert-seq-kv-to-loops}}
  %e = seq.kv_evict %c {policy = #seq.evict<window>, budget = 16 : i64} : !seq.kv_cache<2x16x32xf32>
  seq.kv_store %e, %state[%c0] : !seq.kv_cache<2x16x32xf32>, memref<?xi8>
  return
}

// -----

// A cache that chooses its tokens by attention needs the append and the
// attention of the same tokens together.
!h = !seq.kv_cache<2x16x32xf32, evict = h2o, budget = 8>
func.func @scored_unfused(%state: memref<?xi8>, %q: tensor<1x2x16xf32>) -> tensor<1x2x16xf32> {
  %c0 = arith.constant 0 : index
  %c = seq.kv_load %state[%c0] : memref<?xi8> -> !h
  // expected-error @+1 {{over a cache that chooses its tokens by attention (evict = h2o or roco) must read the tokens just appended}}
  %o, %c1 = seq.kv_attention %q, %c : tensor<1x2x16xf32>, !h
  seq.kv_store %c1, %state[%c0] : !h, memref<?xi8>
  return %o : tensor<1x2x16xf32>
}
