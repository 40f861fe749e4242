#!/usr/bin/env bash
# NativeNet ch6-relu, 2 epochs, seeds 4-10 (seeds 1-3: run-seeds-1-3.sh), fixed order and reshuffled.
set -uo pipefail
cd "$(dirname "$0")/../../.."   # the repository root
cli=src/NativeNet.Cli/bin/Release/net10.0/nativenet
out=${EPOCHS_OUT:-/tmp/epochs}
for seed in 4 5 6 7 8 9 10; do
  for mode in fixed shuffled; do
    flag=""; [ $mode = shuffled ] && flag="--shuffle"
    $cli train --preset ch6-relu --epochs 2 --seed $seed $flag --no-plots --json --out $out/nativenet-$mode-$seed > $out/nativenet-$mode-$seed.json 2> $out/nativenet-$mode-$seed.log
  done
done
echo done
