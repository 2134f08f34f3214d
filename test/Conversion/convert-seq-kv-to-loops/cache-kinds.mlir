// RUN: seqc-opt %s --split-input-file --convert-seq-kv-to-loops --canonicalize --cse | FileCheck %s

// The cache kinds kv-to-loops.mlir does not cover: KIVI at 3, 4
// (symmetric grid) and 8 bits, and keys rotated by groups of KV heads.
// Each checks the packing (codes shifted to j x bits of a word, its `bits`
// bytes stored), the dequantization on read and the bytes per slot of the
// shared layout. Attention reads 3-bit rows 8 channels at a time (the word
// broadcast to 8 lanes, shifted, masked, converted); rows of 1, 2, 4 or 8
// bits whole, in vector registers (one load of the row's bytes, repeated
// 8 / bits times, masked lane by lane, converted: lane e x rowBytes + k holds
// channel (8 / bits) k + e times 2^(e bits)).

// 3-bit KIVI (keys per channel, values per token, groups of 8): 8 codes in
// 3 bytes of an i32 word, a [2, 64, 6] i8 region; 9792 bytes per slot.
!c3 = !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 3, group = 8, axis = 0, asymmetric>, values = #seq.quant<bits = 3, group = 8, axis = 1, asymmetric>, window = 8>
// CHECK-LABEL: func.func @kivi3
// CHECK-DAG: %[[MASK:.*]] = arith.constant dense<7> : vector<8xi32>
// CHECK-DAG: %[[SHIFTS:.*]] = arith.constant dense<[0, 3, 6, 9, 12, 15, 18, 21]> : vector<8xi32>
// CHECK-DAG: %[[BYTES:.*]] = arith.constant 9792 : index
// CHECK: arith.muli %{{.*}}, %[[BYTES]]
// CHECK: memref.view {{.*}} to memref<2x64x6xi8>
// CHECK: math.round
// CHECK: arith.shli %{{.*}}, %c3_i32 : i32
// CHECK: arith.shli %{{.*}}, %c21_i32 : i32
// CHECK: arith.trunci %{{.*}} : i32 to i8
// CHECK: arith.shrui %{{.*}}, %c8_i32 : i32
// CHECK: arith.shrui %{{.*}}, %c16_i32 : i32
// CHECK-NOT: %c24_i32
// CHECK: memref.store %{{.*}} : memref<2x64x6xi8>
// Keys (per channel): the codes alone, their scale folded into the query.
// CHECK: memref.load %{{.*}} : memref<2x64x6xi8>
// CHECK: vector.broadcast %{{.*}} : i32 to vector<8xi32>
// CHECK: arith.shrui %{{.*}}, %[[SHIFTS]] : vector<8xi32>
// CHECK: arith.andi %{{.*}}, %[[MASK]] : vector<8xi32>
// CHECK: %[[KCODES:.*]] = arith.uitofp %{{.*}} : vector<8xi32> to vector<8xf32>
// CHECK-NEXT: arith.muli
// CHECK-NEXT: vector.store %[[KCODES]]
// Values (per token): code x scale + minimum, one group's broadcast.
// CHECK: arith.shrui %{{.*}}, %[[SHIFTS]] : vector<8xi32>
// CHECK: arith.andi %{{.*}}, %[[MASK]] : vector<8xi32>
// CHECK: %[[VCODES:.*]] = arith.uitofp %{{.*}} : vector<8xi32> to vector<8xf32>
// CHECK: %[[SCALED:.*]] = arith.mulf %[[VCODES]], %{{.*}} : vector<8xf32>
// CHECK: %[[V:.*]] = arith.addf %[[SCALED]], %{{.*}} : vector<8xf32>
// CHECK: vector.store %[[V]]
// CHECK-NOT: seq.kv
func.func @kivi3(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !c3
  %c1 = seq.kv_append %c, %k, %v : !c3, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !c3
  seq.kv_store %c2, %state[%slot] : !c3, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// 4-bit symmetric grid, both sides per token: scale = max|x| / 7, codes
// clamp(round(x / scale), -7, 7) + 8 (no minima region: 6464 bytes per
// slot), dequantized as code x scale + (-8 x scale).
!c4 = !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 1, symmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, symmetric>, window = 8>
// Both sides per token: the scores multiply each key row by the query (in
// lane order, times 2^-4 on the high nibbles' lanes) times the token's two
// scales spread over the lanes, plus its minima (-8 x scale) times the
// query's sum over each group; the values sum e x scale spread over the
// lanes times the codes, and e x minimum per group, in registers, permuted
// back to channel order once.
// CHECK-LABEL: func.func @kivi4
// CHECK-DAG: %[[M8:.*]] = arith.constant dense<-8.000000e+00> : vector<2xf32>
// CHECK-DAG: %[[NIBBLES:.*]] = arith.constant dense<[15, 15, 15, 15, 15, 15, 15, 15, -16, -16, -16, -16, -16, -16, -16, -16]> : vector<16xi8>
// CHECK-DAG: %[[LANEW:.*]] = arith.constant dense<[1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 1.000000e+00, 6.250000e-02, {{.*}}]> : vector<16xf32>
// CHECK-DAG: %[[EIGHT:.*]] = arith.constant 8.000000e+00 : f32
// CHECK-DAG: %[[LO:.*]] = arith.constant -7.000000e+00 : f32
// CHECK-DAG: %[[SEVEN:.*]] = arith.constant 7.000000e+00 : f32
// CHECK-DAG: %[[BYTES:.*]] = arith.constant 6464 : index
// CHECK: arith.muli %{{.*}}, %[[BYTES]]
// CHECK: math.absf
// CHECK: arith.divf %{{.*}}, %[[SEVEN]] : f32
// CHECK: math.round
// CHECK: arith.maximumf %{{.*}}, %[[LO]]
// CHECK: arith.minimumf %{{.*}}, %[[SEVEN]]
// CHECK: arith.addf %{{.*}}, %[[EIGHT]]
// CHECK: arith.shli %{{.*}}, %c28_i32 : i32
// CHECK: memref.store %{{.*}} : memref<2x64x8xi8>
// CHECK: %[[Q:.*]] = vector.load %{{.*}}[%c0, %c0] : memref<2x16xf32, {{.*}}>, vector<16xf32>
// CHECK: %[[QP:.*]] = vector.shuffle %[[Q]], %[[Q]] [0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15]
// CHECK: %[[QPW:.*]] = arith.mulf %[[QP]], %[[LANEW]]
// CHECK: %[[QSUM:.*]] = vector.from_elements %{{.*}}, %{{.*}} : vector<2xf32>
// CHECK: scf.for
// CHECK:   %[[SROW:.*]] = vector.load %{{.*}} : memref<2x64x2xf32>, vector<2xf32>
// CHECK:   %[[MROW:.*]] = arith.mulf %[[SROW]], %[[M8]] : vector<2xf32>
// CHECK:   %[[SL:.*]] = vector.shuffle %[[SROW]], %[[SROW]] [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]
// CHECK:   %[[QS:.*]] = arith.mulf %[[QPW]], %[[SL]]
// CHECK:   %[[QM:.*]] = arith.mulf %[[QSUM]], %[[MROW]]
// CHECK:   %[[OFF:.*]] = vector.reduction <add>, %[[QM]]
// CHECK:   %[[ROW:.*]] = vector.load %{{.*}} : memref<2x64x8xi8>, vector<8xi8>
// CHECK:   %[[REP:.*]] = vector.shuffle %[[ROW]], %[[ROW]] [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]
// CHECK:   %[[MASKED:.*]] = arith.andi %[[REP]], %[[NIBBLES]] : vector<16xi8>
// CHECK:   %[[KC:.*]] = arith.uitofp %[[MASKED]] : vector<16xi8> to vector<16xf32>
// CHECK:   %[[PROD:.*]] = arith.mulf %[[QS]], %[[KC]]
// CHECK:   %[[DOT:.*]] = vector.reduction <add>, %[[PROD]]
// CHECK:   %[[SCORE:.*]] = arith.addf %[[DOT]], %[[OFF]]
// CHECK:   memref.store %[[SCORE]]
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<2xf32>, vector<2xf32>)
// CHECK:   %[[VROW:.*]] = vector.load %{{.*}} : memref<2x64x8xi8>, vector<8xi8>
// CHECK:   %[[VREP:.*]] = vector.shuffle %[[VROW]], %[[VROW]] [0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7]
// CHECK:   %[[VMASKED:.*]] = arith.andi %[[VREP]], %[[NIBBLES]] : vector<16xi8>
// CHECK:   %[[VC:.*]] = arith.uitofp %[[VMASKED]] : vector<16xi8> to vector<16xf32>
// CHECK:   %[[VS:.*]] = vector.load %{{.*}} : memref<2x64x2xf32>, vector<2xf32>
// CHECK:   %[[E:.*]] = vector.broadcast %{{.*}} : f32 to vector<2xf32>
// CHECK:   %[[ES:.*]] = arith.mulf %[[E]], %[[VS]]
// CHECK:   %[[ESL:.*]] = vector.shuffle %[[ES]], %[[ES]] [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1]
// CHECK:   %[[T:.*]] = arith.mulf %[[ESL]], %[[VC]]
// CHECK:   arith.addf %{{.*}}, %[[T]] {{.*}} : vector<16xf32>
// CHECK: scf.yield
// CHECK: %[[SUMW:.*]] = arith.mulf %{{.*}}#0, %[[LANEW]]
// CHECK: %[[CH:.*]] = vector.shuffle %[[SUMW]], %[[SUMW]] [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15]
// CHECK: %[[MSUM:.*]] = vector.shuffle %{{.*}}#2, %{{.*}}#2 [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
// CHECK: arith.addf %[[CH]], %[[MSUM]]
// CHECK-NOT: seq.kv
func.func @kivi4(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !c4
  %c1 = seq.kv_append %c, %k, %v : !c4, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !c4
  seq.kv_store %c2, %state[%slot] : !c4, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// 8-bit KIVI: 8 codes fill an i64 word (shifts up to 56), all 8 bytes
// stored; a [2, 64, 16] i8 region, 12352 bytes per slot.
!c8 = !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 8, group = 8, axis = 0, asymmetric>, values = #seq.quant<bits = 8, group = 8, axis = 1, asymmetric>, window = 8>
// On read a row is its 16 bytes converted (one code per byte: no mask, and
// the lane order is the channel order). Keys per channel: each group of 8
// tokens folds its scales into the query and its minima into one offset,
// and its tokens are scored four at a time: four products, their lane sums
// transposed into one vector<4> by rounds of two shuffles and an add, one
// store.
// CHECK-LABEL: func.func @kivi8
// CHECK-DAG: %[[BYTES:.*]] = arith.constant 12352 : index
// CHECK: arith.muli %{{.*}}, %[[BYTES]]
// CHECK: arith.fptoui %{{.*}} : f32 to i64
// CHECK: arith.shli %{{.*}}, %c56_i64 : i64
// CHECK: arith.trunci %{{.*}} : i64 to i8
// CHECK: arith.shrui %{{.*}}, %c56_i64 : i64
// CHECK: memref.store %{{.*}} : memref<2x64x16xi8>
// CHECK: %[[Q:.*]] = vector.load %{{.*}}[%c0, %c0] : memref<2x16xf32, {{.*}}>, vector<16xf32>
// CHECK: scf.for %[[G:.*]] = %c0 to
// CHECK:   %[[S:.*]] = vector.load %{{.*}}[%{{.*}}, %[[G]], %c0] : memref<2x8x16xf32>, vector<16xf32>
// CHECK:   %[[M:.*]] = vector.load %{{.*}}[%{{.*}}, %[[G]], %c0] : memref<2x8x16xf32>, vector<16xf32>
// CHECK:   %[[QS:.*]] = arith.mulf %[[Q]], %[[S]]
// CHECK:   %[[QM:.*]] = arith.mulf %[[Q]], %[[M]]
// CHECK:   %[[OFF:.*]] = vector.reduction <add>, %[[QM]]
// CHECK:   scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %c4
// CHECK:     %[[ROW0:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I]], %c0] : memref<2x64x16xi8>, vector<16xi8>
// CHECK:     %[[KC0:.*]] = arith.uitofp %[[ROW0]] : vector<16xi8> to vector<16xf32>
// CHECK:     %[[I3:.*]] = arith.addi %[[I]], %c3
// CHECK:     %[[ROW3:.*]] = vector.load %{{.*}}[%{{.*}}, %[[I3]], %c0] : memref<2x64x16xi8>, vector<16xi8>
// CHECK:     %[[KC3:.*]] = arith.uitofp %[[ROW3]] : vector<16xi8> to vector<16xf32>
// CHECK:     %[[P0:.*]] = arith.mulf %[[QS]], %[[KC0]]
// CHECK:     %[[P3:.*]] = arith.mulf %[[QS]], %[[KC3]]
// CHECK:     vector.shuffle %[[P0]], %{{.*}} [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23]
// CHECK:     vector.shuffle %{{.*}}, %[[P3]] [8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31]
// CHECK:     %[[SUMS:.*]] = arith.addf %{{.*}} : vector<4xf32>
// CHECK:     %[[OFF4:.*]] = vector.broadcast %[[OFF]] : f32 to vector<4xf32>
// CHECK:     %[[SC4:.*]] = arith.addf %[[SUMS]], %[[OFF4]]
// CHECK:     vector.store %[[SC4]], %{{.*}}[%c0, %[[I]]] : memref<2x64xf32, {{.*}}>, vector<4xf32>
// CHECK-NOT: vector.reduction
// CHECK: scf.for {{.*}} -> (vector<16xf32>, vector<16xf32>, vector<2xf32>, vector<2xf32>)
// CHECK:   %[[VROW:.*]] = vector.load %{{.*}} : memref<2x64x16xi8>, vector<16xi8>
// CHECK:   arith.uitofp %[[VROW]] : vector<16xi8> to vector<16xf32>
// CHECK-NOT: seq.kv
func.func @kivi8(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !c8
  %c1 = seq.kv_append %c, %k, %v : !c8, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !c8
  seq.kv_store %c2, %state[%slot] : !c8, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}

// -----

// Keys rotated by a Hadamard matrix over both KV heads together (RotateKV's
// grouped-head rotation, cached before RoPE): each head's key row is read
// with its group's other head into a [32] row (first head of the group
// h / 2 x 2; the two 16-channel halves), rotated back by the order-32
// Hadamard transform (scaled by 1 / sqrt(32)), then RoPE-d at its position.
// Per-channel key folding is off: the rotation mixes channels.
!g = !seq.kv_cache<2x16x64xf32, keys = #seq.quant<bits = 4, group = 8, axis = 0, asymmetric>, values = #seq.quant<bits = 4, group = 8, axis = 1, asymmetric>, window = 8, key_form = #seq.key_form<rotation_heads = 2, rope_theta = 1.0e4 : f32>>
// CHECK-LABEL: func.func @grouped_rotation
// CHECK-DAG: %[[NORM:.*]] = arith.constant dense<0.176776692> : vector<32xf32>
// CHECK-DAG: %[[COS:.*]] = memref.get_global @__seqc_rope_cos_64x16_0x461c4000 : memref<64x8xf32>
// CHECK-DAG: %[[GROUPS:.*]] = memref.alloc() : memref<2x32xf32>
// CHECK: scf.for %[[KH:.*]] = %c0 to %c2 step %c1
// CHECK:   %[[GROUP:.*]] = memref.subview %[[GROUPS]][%[[KH]], 0] [1, 32]
// CHECK:   arith.divui %[[KH]], %c2 : index
// CHECK:   memref.subview %[[GROUP]][0] [16] [1]
// CHECK:   arith.shrui %{{.*}} : vector<8xi32>
// CHECK:   arith.mulf %{{.*}} : vector<8xf32>
// CHECK:   memref.subview %[[GROUP]][16] [16] [1]
// CHECK:   arith.shrui %{{.*}} : vector<8xi32>
// CHECK:   %[[ROW:.*]] = vector.load %[[GROUP]][%c0] : memref<32xf32, strided<[1], offset: ?>>, vector<32xf32>
// CHECK:   arith.mulf %{{.*}}, %[[NORM]] : vector<32xf32>
// CHECK:   memref.load %[[COS]]
// CHECK-NOT: seq.kv
func.func @grouped_rotation(%state: memref<?xi8>, %slot: index, %q: tensor<?x4x16xf32>, %k: tensor<?x2x16xf32>, %v: tensor<?x2x16xf32>) -> tensor<?x4x16xf32> {
  %c = seq.kv_load %state[%slot] : memref<?xi8> -> !g
  %c1 = seq.kv_append %c, %k, %v : !g, tensor<?x2x16xf32>
  %o, %c2 = seq.kv_attention %q, %c1 : tensor<?x4x16xf32>, !g
  seq.kv_store %c2, %state[%slot] : !g, memref<?xi8>
  return %o : tensor<?x4x16xf32>
}
