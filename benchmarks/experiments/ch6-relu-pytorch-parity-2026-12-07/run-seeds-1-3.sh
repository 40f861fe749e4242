#!/usr/bin/env bash
# ch6-relu, 2 epochs, seeds 1-3: NativeNet in its fixed order (the preset) and reshuffled; PyTorch from the same initial
# weights in the fixed order and reshuffled.
set -uo pipefail
cd "$(dirname "$0")/../../.."   # the repository root
cli=src/NativeNet.Cli/bin/Release/net10.0/nativenet
out=${EPOCHS_OUT:-/tmp/epochs}
mkdir -p "$out"
for seed in 1 2 3; do
  $cli init --preset ch6-relu --seed $seed --out $out/init-$seed.safetensors > /dev/null
  for mode in fixed shuffled; do
    flag=""; [ $mode = shuffled ] && flag="--shuffle"
    $cli train --preset ch6-relu --epochs 2 --seed $seed $flag --no-plots --json --out $out/nativenet-$mode-$seed > $out/nativenet-$mode-$seed.json 2> $out/nativenet-$mode-$seed.log
  done
done
for seed in 1 2 3; do
  /usr/bin/python3 tools/parity/epochs.py $out/init-$seed.safetensors data/mnist --epochs 2 --eta 0.03 --lambda 1.0 > $out/pytorch-fixed-$seed.jsonl
  /usr/bin/python3 tools/parity/epochs.py $out/init-$seed.safetensors data/mnist --epochs 2 --eta 0.03 --lambda 1.0 --shuffle-seed $seed > $out/pytorch-shuffled-$seed.jsonl
done
echo done
