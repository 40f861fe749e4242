#!/usr/bin/env bash
# Packs what the OpenCL device check needs into .device-check/ at the repository root (ignored by git), for a
# machine that has an OpenCL GPU but no .NET SDK and no network: the .NET runtime of this SDK, the CLI
# (framework-dependent), the OpenCL test assembly with the xUnit v2 console runner, the OpenCL ICD loader
# (Debian's ocl-icd-libopencl1, unpacked) and MNIST gzipped. Copy the folder over and run run.sh from it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=$PWD/.device-check   # a fixed folder: this script deletes and refills it
rm -rf "$out" && mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

dotnet build NativeNet.sln -c Release -warnaserror | tail -2
dotnet publish src/NativeNet.Cli -c Release -r linux-x64 --self-contained false -o "$out/cli" | tail -1
cp -r tests/NativeNet.OpenCL.Tests/bin/Release/net10.0 "$out/opencl-tests"

# The xUnit v2 console runner (its netcoreapp2.0 build runs on .NET 10 with roll-forward).
curl -sSfL -o "$tmp/r.nupkg" https://api.nuget.org/v3-flatcontainer/xunit.runner.console/2.4.1/xunit.runner.console.2.4.1.nupkg
echo "23f0b49edbfe5be8f8554e7f4317a390949bb96bdb2f8309ebe27c6855fad38f  $tmp/r.nupkg" | sha256sum -c --quiet
(cd "$tmp" && unzip -q r.nupkg 'tools/netcoreapp2.0/*')
cp -r "$tmp/tools/netcoreapp2.0" "$out/xunit-console"

# The .NET runtime this SDK runs on: the host, hostfxr and Microsoft.NETCore.App.
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
fx=$(ls -d "$root"/shared/Microsoft.NETCore.App/10.* | sort -V | tail -1)
tar -C "$root" -cJf "$out/dotnet-runtime.tar.xz" dotnet host "shared/Microsoft.NETCore.App/$(basename "$fx")"

# The ICD loader, unpacked (the device machine may have the vendor's ICD but no loader).
(cd "$out" && apt-get download -qq ocl-icd-libopencl1 && dpkg -x ocl-icd-libopencl1_*.deb ocl && rm ocl-icd-libopencl1_*.deb)

mkdir -p "$out/mnist"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    gzip -c "data/mnist/$f" > "$out/mnist/$f.gz"
done
# One xz archive beside run.sh keeps the folder small enough to copy (about 40 MB).
(cd "$out" && tar -cJf bundle.tar.xz cli opencl-tests xunit-console ocl mnist && rm -rf cli opencl-tests xunit-console ocl mnist)
cp tools/opencl-device-check/run.sh "$out/"
du -sh "$out"
