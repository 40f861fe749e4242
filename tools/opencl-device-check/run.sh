#!/usr/bin/env bash
# Runs on the GPU machine, from the folder pack.sh made: the OpenCL conformance tests (NATIVENET_REQUIRE_OPENCL=1,
# so a missing platform fails rather than skips), `nativenet bench train` on the GPU, and short training runs.
# Usage: run.sh [RESULTS_DIR] [TRAIN_SECONDS]. Every step has its own time limit and the next runs regardless.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
res=${1:-$here/results}; train_limit=${2:-240}
mkdir -p "$res"
if [ ! -e "$here/.unpacked" ]; then
    tar -C "$here" -xJf "$here/bundle.tar.xz" && touch "$here/.unpacked" || { echo "could not unpack bundle.tar.xz"; exit 1; }
fi
step() { echo; echo "== $(date -u +%T) $*"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
nproc; grep -m1 "model name" /proc/cpuinfo

# The vendor's ICD: use the system's registry when it has one, else register every NVIDIA OpenCL library we can find
# (one .icd each: the loader skips those that do not load, such as a 32-bit copy).
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
    mkdir -p "$here/vendors"
    n=0
    while IFS= read -r lib; do n=$((n + 1)); echo "$lib" > "$here/vendors/nvidia-$n.icd"; echo "ICD: $lib"; done \
        < <(find /usr /lib /opt -name 'libnvidia-opencl.so*' 2>/dev/null | sort)
    if [ "$n" -gt 0 ]; then export OCL_ICD_VENDORS=$here/vendors; else echo "no OpenCL ICD registered and no libnvidia-opencl.so found"; fi
fi
libs=$( (ldconfig -p || /sbin/ldconfig -p) 2>/dev/null)
if ! grep -q 'libOpenCL.so.1' <<<"$libs"; then
    export LD_LIBRARY_PATH=$here/ocl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    echo "loader: the packed ocl-icd"
fi

work=$(mktemp -d)   # this run's runtime and data
mkdir -p "$work/dotnet" "$work/mnist" && tar -C "$work/dotnet" -xJf "$here/dotnet-runtime.tar.xz"
export DOTNET_ROOT=$work/dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dn=$work/dotnet/dotnet
cp "$here"/mnist/*.gz "$work/mnist/"

step "nativenet devices"
timeout 60 "$dn" "$here/cli/NativeNet.Cli.dll" devices 2>&1

step "OpenCL conformance tests against the CPU backend"
NATIVENET_REQUIRE_OPENCL=1 DOTNET_ROLL_FORWARD=Major timeout 300 "$dn" "$here/xunit-console/xunit.console.dll" \
    "$here/opencl-tests/NativeNet.OpenCL.Tests.dll" -nocolor -xml "$res/opencl-tests.xml" 2>&1 | grep -vE "^\s+(Discover|Start|Finish)" | tail -60

: > "$res/bench-train.jsonl"
for run in "ch1 10" "ch6-relu 10" "ch6-relu 64" "ch6-dropout 10" "ch6-dropout 64"; do
    set -- $run
    step "bench train --preset $1 --batch $2 --device opencl"
    timeout 120 "$dn" "$here/cli/NativeNet.Cli.dll" bench train --preset $1 --batch $2 --device opencl --json 2>>"$res/bench-train.err" | tee -a "$res/bench-train.jsonl"
done
step "bench train --preset ch6-relu --device opencl --profile"
timeout 120 "$dn" "$here/cli/NativeNet.Cli.dll" bench train --preset ch6-relu --device opencl --batches 200 --profile 2>&1 | tee "$res/profile-ch6-relu.txt"

step "train --preset ch1 --device opencl"
timeout 120 "$dn" "$here/cli/NativeNet.Cli.dll" train --preset ch1 --device opencl --data "$work/mnist" --json 2>&1 | tail -5
step "train --preset ch6-relu --device opencl (limit ${train_limit}s)"
timeout "$train_limit" "$dn" "$here/cli/NativeNet.Cli.dll" train --preset ch6-relu --device opencl --data "$work/mnist" --json 2>&1 | tail -8
step "done"
