// seq-gpu-tile-loops: the innermost dimension of more than one iteration of
// an outermost parallel loop is tiled by (at most) 64, so that the greedy
// mapping gives tiles to workgroups and the iterations of a tile to threads;
// a bound that is not a multiple of 64 keeps the tile's constant size and
// guards the body.
// RUN: seqc-opt %s --pass-pipeline="builtin.module(func.func(convert-linalg-to-parallel-loops,seq-gpu-tile-loops))" | FileCheck %s --check-prefix=TILE
// RUN: seqc-opt %s --pass-pipeline="builtin.module(func.func(convert-linalg-to-parallel-loops,seq-gpu-tile-loops),seq-gpu-mapping-pipeline,seq-gpu-schedule)" | FileCheck %s --check-prefix=MAP

// TILE-LABEL: func.func @scale
// TILE: %[[C64:.*]] = arith.constant 64 : index
// TILE: %[[STEP:.*]] = arith.muli %c1, %[[C64]] : index
// TILE: scf.parallel (%{{.*}}, %{{.*}}) = (%c0, %c0) to (%c2, %c200) step (%{{.*}}, %[[STEP]])
// TILE: scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%{{.*}}, %[[STEP]]) step (%c1, %c1)
// TILE: scf.if
// MAP-LABEL: func.func @scale
// MAP-SAME: block = array<i64: 1, 64, 1>, grid = array<i64: 2, 4, 1>
func.func @scale(%a: memref<2x200xf32>, %b: memref<2x200xf32>) {
  linalg.generic {indexing_maps = [affine_map<(i, j) -> (i, j)>, affine_map<(i, j) -> (i, j)>],
                  iterator_types = ["parallel", "parallel"]}
      ins(%a : memref<2x200xf32>) outs(%b : memref<2x200xf32>) {
  ^bb0(%x: f32, %y: f32):
    %two = arith.constant 2.0 : f32
    %r = arith.mulf %x, %two : f32
    linalg.yield %r : f32
  }
  return
}

// An innermost dimension of one iteration (a product's [rows, 1] output):
// the next one is tiled, by its 8 iterations.
// MAP-LABEL: func.func @column
// MAP-SAME: block = array<i64: 8, 1, 1>, grid = array<i64: 1, 1, 1>
func.func @column(%a: memref<8x1xf32>, %b: memref<8x1xf32>) {
  linalg.copy ins(%a : memref<8x1xf32>) outs(%b : memref<8x1xf32>)
  return
}

// More tiles than a grid dimension holds: 2^23 + 64 bytes to zero would be
// 131073 tiles of 64; each thread takes 3 consecutive bytes instead (tiles
// of 192, 43691 of them), its own loop of 3 left sequential in the thread.
// TILE-LABEL: func.func @fill
// TILE: %[[C192:.*]] = arith.constant 192 : index
// TILE: scf.parallel (%{{.*}}) = (%c0) to (%c8388672) step (%[[TILE:.*]]) {
// TILE: %[[C3:.*]] = arith.constant 3 : index
// TILE: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[TILE]]) step (%[[K:.*]]) {
// TILE-NEXT: scf.parallel (%{{.*}}) = (%{{.*}}) to (%[[K]]) step (%c1) {
// MAP-LABEL: func.func @fill
// MAP-SAME: block = array<i64: 64, 1, 1>, grid = array<i64: 43691, 1, 1>
func.func @fill(%a: memref<8388672xi8>) {
  %z = arith.constant 0 : i8
  linalg.fill ins(%z : i8) outs(%a : memref<8388672xi8>)
  return
}
