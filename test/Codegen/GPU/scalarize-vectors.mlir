// seq-gpu-scalarize-vectors: vector code wider than 4 lanes in a GPU module
// becomes one scalar op per lane (loads and stores element by element, a
// shuffle picks lanes, a reduction adds them in lane order); 4-lane vectors
// of a vector buffer stay, and any vector load or store on a scalar buffer
// goes element by element.
// RUN: seqc-opt %s --pass-pipeline="builtin.module(gpu.module(seq-gpu-scalarize-vectors,canonicalize))" | FileCheck %s

// CHECK-LABEL: gpu.func @wide
// CHECK-NOT: vector
// CHECK-COUNT-8: memref.load %arg0
// CHECK-COUNT-8: arith.mulf
// CHECK: arith.addf
// CHECK-COUNT-8: memref.store
// CHECK: gpu.return
// CHECK-LABEL: gpu.func @tiles
// CHECK: memref.load %arg0{{.*}} : memref<16xvector<4xf32>>
// CHECK: arith.addf {{.*}} : vector<4xf32>
// CHECK: memref.store {{.*}} : memref<16xvector<4xf32>>
// CHECK-LABEL: gpu.func @narrow_on_scalars
// CHECK-NOT: vector.load
// CHECK-COUNT-4: memref.load %arg0
gpu.module @m {
  gpu.func @wide(%a: memref<64xf32>, %b: memref<64xf32>, %s: memref<1xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c8 = arith.constant 8 : index
    %two = arith.constant dense<2.0> : vector<8xf32>
    %x = vector.load %a[%c8] : memref<64xf32>, vector<8xf32>
    %y = arith.mulf %x, %two : vector<8xf32>
    %r = vector.shuffle %y, %y [7, 6, 5, 4, 3, 2, 1, 0] : vector<8xf32>, vector<8xf32>
    %sum = vector.reduction <add>, %r : vector<8xf32> into f32
    memref.store %sum, %s[%c0] : memref<1xf32>
    vector.store %r, %b[%c0] : memref<64xf32>, vector<8xf32>
    gpu.return
  }
  gpu.func @tiles(%a: memref<16xvector<4xf32>>) kernel {
    %c0 = arith.constant 0 : index
    %x = memref.load %a[%c0] : memref<16xvector<4xf32>>
    %y = arith.addf %x, %x : vector<4xf32>
    memref.store %y, %a[%c0] : memref<16xvector<4xf32>>
    gpu.return
  }
  gpu.func @narrow_on_scalars(%a: memref<64xf32>) kernel {
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    %x = vector.load %a[%c0] : memref<64xf32>, vector<4xf32>
    vector.store %x, %a[%c4] : memref<64xf32>, vector<4xf32>
    gpu.return
  }
}
