// One decode step of grouped-query attention over a KV cache. Keys are
// rotated before caching (the rotation cancels on the query side), and the
// cache is bounded by a heavy-hitter eviction.
func.func @decode_step(%q: tensor<1x32x128xf32>, %k: tensor<1x8x128xf32>,
                       %v: tensor<1x8x128xf32>, %pos: tensor<1xi64>,
                       %cache: !seq.kv_cache<8x128x4096xf16>)
    -> (tensor<1x32x128xf32>, !seq.kv_cache<8x128x4096xf16>) {
  %qr = seq.rope %q, %pos : tensor<1x32x128xf32>, tensor<1xi64>
  %kr = seq.rope %k, %pos : tensor<1x8x128xf32>, tensor<1xi64>
  %kh = seq.hadamard %kr : tensor<1x8x128xf32>
  %qh = seq.hadamard %qr : tensor<1x32x128xf32>
  %c1 = seq.kv_append %cache, %kh, %v : !seq.kv_cache<8x128x4096xf16>, tensor<1x8x128xf32>
  %o, %c2 = seq.kv_attention %qh, %c1 : tensor<1x32x128xf32>, !seq.kv_cache<8x128x4096xf16>
  %c3 = seq.kv_evict %c2 {policy = #seq.evict<h2o>, budget = 2048 : i64, recent = 128 : i64}
      : !seq.kv_cache<8x128x4096xf16>
  return %o, %c3 : tensor<1x32x128xf32>, !seq.kv_cache<8x128x4096xf16>
}
