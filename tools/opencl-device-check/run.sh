#!/usr/bin/env bash
# Runs on the GPU machine, from the folder pack.sh made: the OpenCL conformance tests (NATIVENET_REQUIRE_OPENCL=1,
# so a missing platform fails rather than skips), `nativenet bench train` on the GPU, and short training runs.
# Usage: run.sh [RESULTS_DIR] [TRAIN_SECONDS]. Every step has its own time limit and the next runs regardless.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
res=${1:-$here/results}; train_limit=${2:-240}
mkdir -p "$res"
[ -d "$here/cli" ] || tar -C "$here" -xJf "$here/bundle.tar.xz"
step() { echo; echo "== $(date -u +%T) $*"; }

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
nproc; grep -m1 "model name" /proc/cpuinfo

# The vendor's ICD: use the system's registry when it has one, else register the NVIDIA library we can find.
if ! ls /etc/OpenCL/vendors/*.icd >/dev/null 2>&1; then
    lib=$(find /usr /lib /opt -name 'libnvidia-opencl.so*' 2>/dev/null | sort | head -1)
    if [ -n "$lib" ]; then
        mkdir -p "$here/vendors" && echo "$lib" > "$here/vendors/nvidia.icd"
        export OCL_ICD_VENDORS=$here/vendors
        echo "ICD: $lib"
    else
        echo "no OpenCL ICD registered and no libnvidia-opencl.so found"
    fi
fi
if ! ldconfig -p | grep -q libOpenCL.so.1; then
    export LD_LIBRARY_PATH=$here/ocl/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    echo "loader: the packed ocl-icd"
fi

mkdir -p /tmp/nativenet-dotnet && tar -C /tmp/nativenet-dotnet -xJf "$here/dotnet-runtime.tar.xz"
export DOTNET_ROOT=/tmp/nativenet-dotnet DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dn=/tmp/nativenet-dotnet/dotnet
mkdir -p /tmp/nativenet-mnist && cp "$here"/mnist/*.gz /tmp/nativenet-mnist/

step "nativenet devices"
timeout 60 "$dn" "$here/cli/NativeNet.Cli.dll" devices 2>&1

step "OpenCL conformance tests against the CPU backend"
NATIVENET_REQUIRE_OPENCL=1 DOTNET_ROLL_FORWARD=Major timeout 300 "$dn" "$here/xunit-console/xunit.console.dll" \
    "$here/opencl-tests/NativeNet.OpenCL.Tests.dll" -nocolor -xml "$res/opencl-tests.xml" 2>&1 | grep -vE "^\s+(Discover|Start|Finish)" | tail -60

for run in "ch1 10" "ch6-relu 10" "ch6-relu 64" "ch6-dropout 10" "ch6-dropout 64"; do
    set -- $run
    step "bench train --preset $1 --batch $2 --device opencl"
    timeout 120 "$dn" "$here/cli/NativeNet.Cli.dll" bench train --preset $1 --batch $2 --device opencl --json 2>&1 | tee -a "$res/bench-train.jsonl"
done
step "bench train --preset ch6-relu --device opencl --profile"
timeout 120 "$dn" "$here/cli/NativeNet.Cli.dll" bench train --preset ch6-relu --device opencl --batches 200 --profile 2>&1 | tee "$res/profile-ch6-relu.txt"

step "train --preset ch1 --device opencl"
timeout 120 "$dn" "$here/cli/NativeNet.Cli.dll" train --preset ch1 --device opencl --data /tmp/nativenet-mnist --json 2>&1 | tail -5
step "train --preset ch6-relu --device opencl (limit ${train_limit}s)"
timeout "$train_limit" "$dn" "$here/cli/NativeNet.Cli.dll" train --preset ch6-relu --device opencl --data /tmp/nativenet-mnist --json 2>&1 | tail -8
step "done"
