// seq-gpu-step-entries: seqc_prefill_all and a seqc_prefill of any token
// count go (their host part would loop over tokens), a seqc_prefill of a
// static token count stays (a GPU driver runs a prompt in chunks of that
// many through it), and seqc_init_state's fill of a state
// whose size its IR leaves open is given the size the KV caches take: one
// layout of !seq.kv_cache<2x32x256xf32> per slot (seqc/Support/KVLayout.h:
// 131136 bytes, the kv_slot_bytes of the embedded LLaMA's manifest), slots 0
// and 1 here.
// RUN: seqc-opt %s --split-input-file --seq-gpu-step-entries | FileCheck %s

// CHECK-LABEL: func.func @seqc_init_state
// CHECK: %[[ALL:.*]] = memref.view %arg0[%{{.*}}][] : memref<?xi8> to memref<262272xi8>
// CHECK: linalg.fill ins(%{{.*}} : i8) outs(%[[ALL]] : memref<262272xi8>)
// CHECK-NOT: @seqc_prefill(
// CHECK-NOT: @seqc_prefill_all
func.func @seqc_init_state(%state: memref<?xi8>) {
  %z = arith.constant 0 : i8
  linalg.fill ins(%z : i8) outs(%state : memref<?xi8>)
  return
}
func.func private @layer(%state: memref<?xi8>, %slot: index) -> index {
  %cache = seq.kv_load %state[%slot] : memref<?xi8> -> !seq.kv_cache<2x32x256xf32>
  %n = seq.kv_length %cache : !seq.kv_cache<2x32x256xf32>
  return %n : index
}
func.func @seqc_step(%state: memref<?xi8>) -> index {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %a = func.call @layer(%state, %c0) : (memref<?xi8>, index) -> index
  %b = func.call @layer(%state, %c1) : (memref<?xi8>, index) -> index
  %s = arith.addi %a, %b : index
  return %s : index
}
func.func @seqc_prefill(%state: memref<?xi8>) {
  return
}
func.func @seqc_prefill_all(%tokens: memref<?xi32>, %state: memref<?xi8>) {
  return
}

// -----

// A prefill built for 4 tokens has a static schedule: it stays.
// CHECK: // -----
// CHECK: func.func @seqc_prefill(%{{.*}}: memref<4xi32>
// CHECK-NOT: @seqc_prefill_all
func.func @seqc_prefill(%tokens: memref<4xi32>, %state: memref<?xi8>) {
  return
}
func.func @seqc_prefill_all(%tokens: memref<?xi32>, %state: memref<?xi8>) {
  return
}
