// RUN: seqc-opt %s --convert-seq-to-linalg -split-input-file | FileCheck %s

// seq.rope is one elementwise linalg.generic over [T, H, D] that reads each
// channel's partner with tensor.extract. Half style (the default): channel
// c < d/2 pairs with c + d/2 (sign -1), the others with c - d/2. The angle
// pos * theta^(-2i/d) = pos * exp(i * (-2 ln theta / d)) and its cosine and
// sine are computed in f64, the rotation in f32.
// CHECK-LABEL: func.func @rope_half
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x8xf32>, %[[POS:.*]]: tensor<?xi64>)
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}) : tensor<?x2x8xf32>
// CHECK: linalg.generic {{.*}}iterator_types = ["parallel", "parallel", "parallel"]} ins(%[[Q]], %[[POS]] : tensor<?x2x8xf32>, tensor<?xi64>) outs(%[[E]] : tensor<?x2x8xf32>)
// CHECK: ^bb0(%[[X:.*]]: f32, %[[P:.*]]: i64, %{{.*}}: f32):
// CHECK: %[[T:.*]] = linalg.index 0 : index
// CHECK: %[[H:.*]] = linalg.index 1 : index
// CHECK: %[[C:.*]] = linalg.index 2 : index
// CHECK: %[[FIRST:.*]] = arith.cmpi ult, %[[C]], %c4 : index
// CHECK: %[[PAIR:.*]] = arith.select %[[FIRST]], %[[C]], %{{.*}} : index
// CHECK: %[[ROT:.*]] = arith.cmpi ult, %[[C]], %c8 : index
// CHECK: %[[PARTNER:.*]] = arith.select %[[ROT]], %{{.*}}, %[[C]] : index
// CHECK: %[[Y:.*]] = tensor.extract %[[Q]][%[[T]], %[[H]], %[[PARTNER]]] : tensor<?x2x8xf32>
// CHECK: arith.index_cast %[[P]] : i64 to index
// CHECK: arith.index_cast %[[PAIR]] : index to i64
// CHECK: arith.constant -2.3025850929940459 : f64
// CHECK: math.exp %{{.*}} : f64
// CHECK: math.cos %{{.*}} : f64
// CHECK: math.sin %{{.*}} : f64
// CHECK: %[[R:.*]] = arith.addf %{{.*}}, %{{.*}} : f32
// CHECK: %[[OUT:.*]] = arith.select %[[ROT]], %[[R]], %[[X]] : f32
// CHECK: linalg.yield %[[OUT]] : f32
// CHECK-NOT: seq.rope
func.func @rope_half(%q: tensor<?x2x8xf32>, %pos: tensor<?xi64>) -> tensor<?x2x8xf32> {
  %0 = seq.rope %q, %pos : tensor<?x2x8xf32>, tensor<?xi64>
  return %0 : tensor<?x2x8xf32>
}

// -----

// Interleaved style on the first rotary_dim = 4 channels of 8: channel c
// pairs with c + 1 when even, c - 1 when odd (pair c / 2); channels from 4
// on pass through. f16 is extended to f32 and the result truncated back;
// index positions need no cast. -2 ln(500000) / 4 = -6.56...
// CHECK-LABEL: func.func @rope_interleaved_partial
// CHECK: ^bb0(%[[X:.*]]: f16, %[[P:.*]]: index, %{{.*}}: f16):
// CHECK: %[[C:.*]] = linalg.index 2 : index
// CHECK: %[[PAIR:.*]] = arith.divui %[[C]], %c2 : index
// CHECK: arith.remui %[[C]]
// CHECK: %[[ROT:.*]] = arith.cmpi ult, %[[C]], %c4 : index
// CHECK: %[[XF:.*]] = arith.extf %[[X]] : f16 to f32
// CHECK: arith.index_cast %[[P]] : index to i64
// CHECK: arith.index_cast %[[PAIR]] : index to i64
// CHECK: arith.constant -6.5611816887021641 : f64
// CHECK: %[[OUT:.*]] = arith.select %[[ROT]], %{{.*}}, %[[XF]] : f32
// CHECK: %[[H:.*]] = arith.truncf %[[OUT]] : f32 to f16
// CHECK: linalg.yield %[[H]] : f16
// CHECK-NOT: seq.rope
func.func @rope_interleaved_partial(%q: tensor<?x2x8xf16>, %pos: tensor<?xindex>) -> tensor<?x2x8xf16> {
  %0 = seq.rope %q, %pos {theta = 500000.0 : f32, rotary_dim = 4 : i64, style = #seq.rope_style<interleaved>} : tensor<?x2x8xf16>, tensor<?xindex>
  return %0 : tensor<?x2x8xf16>
}
