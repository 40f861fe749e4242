#!/usr/bin/env bash
# Records a deliberate change to the public API of the four libraries (NativeNet.Core, NativeNet.Data, NativeNet,
# NativeNet.OpenCL). Each library lists its API in PublicAPI.Shipped.txt (the last release) and PublicAPI.Unshipped.txt
# (changes since), and the build fails on any public member not listed there (RS0016) or listed but gone (RS0017).
# This script builds the libraries, and for each such error appends the symbol's line to that library's
# PublicAPI.Unshipped.txt: an added member as it is, a removed one with the *REMOVED* prefix. Review the diff of the
# PublicAPI files before committing it: it is the API change. At a release, move the Unshipped lines into Shipped.
#
# Usage: flock /tmp/nativenet-cpu.lock tools/public-api.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --no-incremental: diagnostics are only reported for projects that compile, and warnings must not stop the build.
for project in src/NativeNet/NativeNet.csproj src/NativeNet.OpenCL/NativeNet.OpenCL.csproj; do
    dotnet build "$project" -c Release --no-incremental -p:TreatWarningsAsErrors=false >>"$log" 2>&1 || true
done

# A diagnostic line: FILE(L,C): warning RS0016: Symbol 'API LINE' is not part of the declared public API (URL) [DIR/X.csproj]
added=$(sed -nE "s/.*warning RS0016: Symbol '(.*)' is not part of the declared public API .*\[(.*)\/[^/]+\.csproj\]$/\2\t\1/p" "$log" | sort -u)
removed=$(sed -nE "s/.*warning RS0017: Symbol '(.*)' is part of the declared API, but is either not public or could not be found .*\[(.*)\/[^/]+\.csproj\]$/\2\t*REMOVED*\1/p" "$log" | sort -u)
changes=$(printf '%s\n%s\n' "$added" "$removed" | sed '/^$/d')
if [ -z "$changes" ]; then
    if grep -qE ": error |warning RS00" "$log"; then
        grep -E ": error |warning RS00" "$log" | sort -u
        echo "public-api: the build has errors or other API diagnostics (above); nothing recorded." >&2
        exit 1
    fi
    echo "public-api: the public API matches the PublicAPI files; nothing to record."
    exit 0
fi
while IFS=$'\t' read -r dir line; do
    printf '%s\n' "$line" >>"$dir/PublicAPI.Unshipped.txt"
    echo "${dir##*/src/}: $line"
done <<<"$changes"
echo "public-api: recorded $(wc -l <<<"$changes") line(s) in PublicAPI.Unshipped.txt; review the diff, then commit it with the change."
