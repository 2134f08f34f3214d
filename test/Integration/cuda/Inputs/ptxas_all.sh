# ptxas_all.sh SEQC SEQC_CUDA_RUN TOOLKIT KERNELS.mlir WORKDIR ARCH...
#
# For each ARCH: compiles KERNELS.mlir with --cuda-arch=ARCH (seqc itself
# runs ptxas for the cubin), then takes each kernel's PTX out of the
# artifact, checks that it calls no libdevice function left unlinked
# (.extern .func __nv_...) and names its entry and .target ARCH, and
# assembles it with the toolkit's ptxas for ARCH. One line per kernel and
# architecture; exits non-zero at the first failure.
set -eu
seqc=$1 run=$2 toolkit=$3 kernels=$4 work=$5
shift 5
for arch in "$@"; do
  art=$work/$arch
  rm -rf "$art"
  "$seqc" compile "$kernels" --target=cuda --cuda-arch="$arch" -o "$art" 2>/dev/null
  names=$(sed -n 's/^  "kernels": "\(.*\)",$/\1/p' "$art/manifest.json")
  for k in $names; do
    "$run" "$art" --dump-ptx "$k" -o "$art/$k.ptx"
    "$run" "$art" --dump-cubin "$k" -o "$art/$k.cubin"
    if grep -q '\.extern \.func __nv_' "$art/$k.ptx"; then
      echo "$k $arch: the PTX still calls libdevice:"
      grep '\.extern \.func __nv_' "$art/$k.ptx"
      exit 1
    fi
    grep -q "^\.target $arch\$" "$art/$k.ptx" || { echo "$k $arch: no .target $arch"; exit 1; }
    entry=$(grep -c '^\.visible \.entry ' "$art/$k.ptx")
    "$toolkit/bin/ptxas" -arch="$arch" "$art/$k.ptx" -o "$art/$k.ptxas.cubin"
    echo "$k $arch: $entry entry, no libdevice externs, ptxas ok ($(stat -c %s "$art/$k.ptxas.cubin") bytes; the artifact's cubin $(stat -c %s "$art/$k.cubin") bytes)"
  done
done
