#!/bin/bash
# same_as_cpu.sh SEQC SEQC_RUN DIR CKPT [seqc options...]: compiles CKPT with
# --arch=spikegpt and the options for --target=neuro (DIR/n) and
# --target=cpu (DIR/c), runs tokens 5..10 one step at a time through both,
# and requires the logits and the state after every token to be the same
# bytes. Leaves DIR/n.f32 and DIR/n.state.f32 for further checks.
set -euo pipefail
seqc=$1 seqcrun=$2 dir=$3 ckpt=$4
shift 4
rm -rf "$dir" && mkdir -p "$dir"
"$seqc" compile "$ckpt" --arch=spikegpt --target=neuro "$@" -o "$dir/n" 2>/dev/null
"$seqc" compile "$ckpt" --arch=spikegpt "$@" -o "$dir/c"
for t in n c; do
  "$seqcrun" logits "$dir/$t" --tokens 5,6,7,8,9,10 --all --step \
    -o "$dir/$t.f32" --state "$dir/$t.state.f32"
done
cmp "$dir/n.f32" "$dir/c.f32"
cmp "$dir/n.state.f32" "$dir/c.state.f32"
