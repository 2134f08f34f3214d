// SpikeGPT-style spiking output: the block output drives LIF neurons; a
// Heaviside step with `gt` on spikes is the identity and folds away.
func.func @spiking_output(%h: tensor<?x512xf32>, %v: tensor<512xf32>)
    -> (tensor<?x512xf32>, tensor<512xf32>) {
  %s, %v1 = seq.lif %h, %v {tau = 2.0 : f32, v_threshold = 1.0 : f32}
      : tensor<?x512xf32>, tensor<512xf32>
  %again = seq.heaviside %s {fire = #seq.fire<gt>} : tensor<?x512xf32>
  return %again, %v1 : tensor<?x512xf32>, tensor<512xf32>
}
