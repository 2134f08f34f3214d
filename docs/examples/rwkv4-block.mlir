// The time-mixing core of one RWKV-4 block in the seq dialect, as prefill
// (T tokens) with explicit state: the shifted-token carry and the WKV
// (aa, bb, pp) state go in and come out.
func.func @rwkv4_time_mix_core(%x: tensor<?x512xf32>, %prev: tensor<512xf32>,
                               %k: tensor<?x512xf32>, %v: tensor<?x512xf32>,
                               %decay: tensor<512xf32>, %first: tensor<512xf32>,
                               %state: tensor<3x512xf32>)
    -> (tensor<?x512xf32>, tensor<?x512xf32>, tensor<512xf32>, tensor<3x512xf32>) {
  %xx, %last = seq.token_shift %x, %prev : tensor<?x512xf32>, tensor<512xf32>
  %y, %state1 = seq.wkv4 %k, %v, %decay, %first, %state
      : tensor<?x512xf32>, tensor<512xf32>, tensor<3x512xf32>
  return %xx, %y, %last, %state1
      : tensor<?x512xf32>, tensor<?x512xf32>, tensor<512xf32>, tensor<3x512xf32>
}
