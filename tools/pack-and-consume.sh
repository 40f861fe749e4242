#!/usr/bin/env bash
# What a user of the NativeNet packages gets, checked end to end (.ci/run calls it; it also runs alone):
#  1. `dotnet pack` puts every package into a local feed (artifacts/packages); each has its metadata, docs and symbols;
#  2. the `nativenet` tool installs from that feed into a temporary folder; `nativenet --help` works, and the installed
#     tool trains a small model (ch1, one epoch) and evaluates it;
#  3. tests/NativeNet.Consumer restores the libraries from the feed (PackageReference, not the projects) and classifies
#     the MNIST test set with that model, once as a normal (JIT) app and once as a Native AOT binary;
#  4. the three test accuracies (nativenet evaluate, JIT app, AOT app) must be equal, and the AOT binary must run the
#     kernels at the CPU level the JIT app runs them at.
# Each check prints "ok: ..." or "FAILED: ...", and the last line is "== pack-and-consume: N checks passed, N failed".
# Exits non-zero when any check fails.
#
# Usage: tools/pack-and-consume.sh [--no-build]
#   --no-build  pack the libraries `dotnet build NativeNet.sln -c Release` already built (as .ci/run does); the tool's
#               platform packages are always built here, one publish for each platform.
# Needs MNIST in data/mnist (tools/fetch-mnist.sh) and, for Native AOT, clang and zlib1g-dev (.ci/run installs them).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

no_build=()
[ "${1:-}" = "--no-build" ] && no_build=(--no-build)

feed=$root/artifacts/packages
consumer=$root/tests/NativeNet.Consumer
version=$(sed -nE 's|.*<NativeNetVersion>([^<]+)</NativeNetVersion>.*|\1|p' version.props)
libraries=(NativeNet.Core NativeNet.Data NativeNet NativeNet.OpenCL)
# The platforms the tool is packed for, as its project names them.
tool_rids=$(sed -nE 's|.*<RuntimeIdentifiers>([^<]+)</RuntimeIdentifiers>.*|\1|p' src/NativeNet.Cli/NativeNet.Cli.csproj)
mnist=$root/data/mnist
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
fail() { echo "FAILED: $*"; failed=$((failed + 1)); }
finish() {
    echo "== pack-and-consume: $passed checks passed, $failed failed (${SECONDS} s)"
    [ "$failed" = 0 ]
    exit
}
# Runs a command with its output in $work/$1.log; on failure shows the log's end.
run_logged() {
    local name=$1; shift
    if "$@" >"$work/$name.log" 2>&1; then return 0; fi
    echo "--- $name failed: $*"; tail -30 "$work/$name.log"; return 1
}
# "test accuracy: CORRECT / COUNT" from a consumer's output.
accuracy_of() { sed -nE 's|^test accuracy: ([0-9]+ / [0-9]+)$|\1|p' "$1"; }
cpu_of() { sed -nE 's|^cpu: ([a-z0-9]+) .*|\1|p' "$1"; }
runtime_of() { sed -nE 's|^runtime: (.*)$|\1|p' "$1"; }

echo "== pack ($version) into $feed"
rm -rf "$feed"
start=$SECONDS
pack_all() {
    local project
    for project in "${libraries[@]}"; do
        dotnet pack "src/$project" -c Release -warnaserror "${no_build[@]}" || return 1
    done
    dotnet pack src/NativeNet.Cli -c Release -warnaserror
}
if run_logged pack pack_all; then
    ok "dotnet pack: the four libraries and the tool ($((SECONDS - start)) s)"
else
    fail "dotnet pack"
    finish
fi
# Each package: its files and .nuspec fields; the libraries with XML docs and their PDB in the .snupkg.
if /usr/bin/python3 - "$feed" "$version" "${libraries[*]}" "$tool_rids" <<'PY'
import sys, zipfile, xml.etree.ElementTree as ET
feed, version = sys.argv[1], sys.argv[2]
libraries = sys.argv[3].split()
# The tool: one package for each platform, and a pointer package (no binaries, no symbols) naming them.
tool_rids = sys.argv[4].split(";")
problems = []
for pid in libraries + ["NativeNet.Cli"] + [f"NativeNet.Cli.{rid}" for rid in tool_rids]:
    path = f"{feed}/{pid}.{version}.nupkg"
    pointer = pid == "NativeNet.Cli"
    try:
        nupkg = zipfile.ZipFile(path)
        snupkg = None if pointer else zipfile.ZipFile(f"{feed}/{pid}.{version}.snupkg")
    except FileNotFoundError as e:
        problems.append(f"{pid}: {e.filename} missing"); continue
    names = set(nupkg.namelist())
    meta = ET.fromstring(nupkg.read(f"{pid}.nuspec")).find("{*}metadata")
    field = lambda tag: meta.find("{*}" + tag)
    license = field("license")
    if license is None or license.get("type") != "expression" or license.text != "MIT": problems.append(f"{pid}: licence is not the expression MIT")
    if not (field("description").text or "").strip(): problems.append(f"{pid}: no description")
    if not (field("tags").text or "").strip(): problems.append(f"{pid}: no tags")
    readme = field("readme")
    if readme is None or readme.text not in names: problems.append(f"{pid}: no README in the package")
    repo = field("repository")
    if repo is None or repo.get("type") != "git" or len(repo.get("commit", "")) != 40: problems.append(f"{pid}: no repository type and commit")
    assembly = "NativeNet.Cli" if pid.startswith("NativeNet.Cli") else pid
    if snupkg is not None and not [n for n in snupkg.namelist() if n.endswith(f"{assembly}.pdb")]:
        problems.append(f"{pid}: no {assembly}.pdb in the .snupkg")
    types = [t.get("name") for t in meta.findall(".//{*}packageType")]
    if pid in libraries:
        for f in (f"lib/net10.0/{pid}.dll", f"lib/net10.0/{pid}.xml"):
            if f not in names: problems.append(f"{pid}: {f} missing")
    elif pointer:
        settings = nupkg.read("tools/any/any/DotnetToolSettings.xml").decode() if "tools/any/any/DotnetToolSettings.xml" in names else ""
        if "DotnetTool" not in types or 'Name="nativenet"' not in settings: problems.append(f"{pid}: not a .NET tool with the command nativenet")
        for rid in tool_rids:
            if f'RuntimeIdentifier="{rid}" Id="NativeNet.Cli.{rid}"' not in settings: problems.append(f"{pid}: does not point {rid} to NativeNet.Cli.{rid}")
    else:
        rid = pid.removeprefix("NativeNet.Cli.")
        settings_path = f"tools/net10.0/{rid}/DotnetToolSettings.xml"
        settings = nupkg.read(settings_path).decode() if settings_path in names else ""
        if "DotnetToolRidPackage" not in types or 'Name="nativenet"' not in settings: problems.append(f"{pid}: not the {rid} package of a .NET tool with the command nativenet")
        natives = [n for n in names if n.endswith((".so", ".dylib", ".dll", ".lib")) and n.rsplit("/", 1)[-1].startswith(("onnxruntime", "libonnxruntime"))]
        foreign = [n for n in natives if (n.endswith(".dll") or n.endswith(".lib")) != rid.startswith("win")]
        if foreign: problems.append(f"{pid}: another platform's ONNX Runtime files: {', '.join(sorted(foreign))}")
    size = sum(i.compress_size for i in nupkg.infolist())
    print(f"   {pid}.{version}.nupkg: {size / 1e6:.1f} MB, {len(names)} files; repository commit {repo.get('commit', '?')[:12] if repo is not None else '?'}, url '{repo.get('url', '') if repo is not None else ''}'")
for p in problems: print("   " + p)
sys.exit(1 if problems else 0)
PY
then ok "${#libraries[@]} libraries and the tool (a pointer package and one for each of $tool_rids, none with another platform's ONNX Runtime), each with licence, description, tags, README, repository commit, symbols (libraries: XML docs)"
else fail "package contents"
fi

echo "== the nativenet tool from the feed"
tool=$work/tool
# Only the local feed: the tool package carries its dependencies, and no public package may stand in for it.
printf '<configuration><packageSources><clear /></packageSources></configuration>\n' >"$work/tool-nuget.config"
start=$SECONDS
if run_logged tool-install dotnet tool install NativeNet.Cli --version "$version" --tool-path "$tool" \
        --add-source "$feed" --configfile "$work/tool-nuget.config"; then
    ok "dotnet tool install NativeNet.Cli --tool-path (from the feed, $((SECONDS - start)) s)"
else
    fail "dotnet tool install NativeNet.Cli"
fi
if "$tool/nativenet" --help >"$work/help.log" 2>&1 && grep -q "train" "$work/help.log" && grep -q "evaluate" "$work/help.log"; then
    ok "nativenet --help (lists train, evaluate)"
else
    fail "nativenet --help"; tail -20 "$work/help.log"
fi

echo "== train ch1 for one epoch with the installed tool, then evaluate"
model=$work/ch1/best.safetensors
start=$SECONDS
if run_logged train "$tool/nativenet" train --preset ch1 --epochs 1 --no-plots --data "$mnist" --out "$work/ch1" && [ -f "$model" ]; then
    ok "nativenet train --preset ch1 --epochs 1 ($((SECONDS - start)) s)"
else
    fail "nativenet train --preset ch1 --epochs 1"
fi
evaluated=""
if run_logged evaluate "$tool/nativenet" evaluate "$model" --data "$mnist" --json; then
    # Progress goes to stderr, the result is the one JSON line.
    evaluated=$(sed -nE 's|^\{.*"test_correct":([0-9]+),"test_count":([0-9]+).*|\1 / \2|p' "$work/evaluate.log")
fi
echo "   nativenet evaluate: test accuracy: ${evaluated:-(none)}"

echo "== tests/NativeNet.Consumer on the packages: JIT"
# The consumer's packages folder is its own (NuGet.config); the NativeNet packages just packed replace any earlier ones
# of the same version there.
rm -rf "$root"/artifacts/consumer/packages/nativenet*
rm -rf "$consumer/bin" "$consumer/obj"
start=$SECONDS
jit_out=$work/jit.out
if run_logged consumer-build dotnet build "$consumer" -c Release -warnaserror \
        && dotnet "$consumer/bin/Release/net10.0/NativeNet.Consumer.dll" "$model" "$mnist" >"$jit_out" 2>&1; then
    cat "$jit_out"
    ok "consumer restored and built from the feed, ran under the JIT ($((SECONDS - start)) s)"
else
    [ -f "$jit_out" ] && cat "$jit_out"
    fail "consumer as a JIT app"
fi
# NuGet records where each restored package came from.
source_of_nativenet=$(sed -nE 's|.*"source": *"([^"]*)".*|\1|p' "$root/artifacts/consumer/packages/nativenet/$version/.nupkg.metadata" 2>/dev/null)
if [ "${source_of_nativenet%/}" = "$feed" ] && ! grep -q ProjectReference "$consumer/NativeNet.Consumer.csproj"; then
    ok "the consumer's NativeNet $version came from $feed as a PackageReference"
else
    fail "the consumer's NativeNet came from '${source_of_nativenet:-?}', not $feed"
fi

echo "== tests/NativeNet.Consumer on the packages: Native AOT"
start=$SECONDS
aot_out=$work/aot.out
if run_logged consumer-publish dotnet publish "$consumer" -c Release -r linux-x64 -warnaserror -o "$work/aot" \
        && "$work/aot/NativeNet.Consumer" "$model" "$mnist" >"$aot_out" 2>&1; then
    cat "$aot_out"
    ok "consumer published as Native AOT with no warning ($(du -h "$work/aot/NativeNet.Consumer" | cut -f1) binary) and ran ($((SECONDS - start)) s)"
else
    [ -f "$aot_out" ] && cat "$aot_out"
    grep -E "warning|error" "$work/consumer-publish.log" | sort -u | head -20
    fail "consumer as a Native AOT binary"
fi

echo "== the three accuracies"
jit=$( [ -f "$jit_out" ] && accuracy_of "$jit_out")
aot=$( [ -f "$aot_out" ] && accuracy_of "$aot_out")
echo "   nativenet evaluate: ${evaluated:-(none)}   consumer (JIT): ${jit:-(none)}   consumer (Native AOT): ${aot:-(none)}"
if [ -n "$evaluated" ] && [ "$evaluated" = "$jit" ] && [ "$jit" = "$aot" ]; then
    ok "nativenet evaluate, the JIT app and the AOT app agree: $evaluated"
else
    fail "test accuracies differ or are missing: evaluate '${evaluated}', JIT '${jit}', AOT '${aot}'"
fi
jit_cpu=$( [ -f "$jit_out" ] && cpu_of "$jit_out")
aot_cpu=$( [ -f "$aot_out" ] && cpu_of "$aot_out")
if [ -n "$jit_cpu" ] && [ "$jit_cpu" = "$aot_cpu" ] && [ "$(runtime_of "$jit_out")" = jit ] && [ "$(runtime_of "$aot_out")" = "native aot" ]; then
    ok "the AOT binary (nothing JIT-compiled) runs the kernels at $aot_cpu, as the JIT app does"
else
    fail "CPU level: JIT app '${jit_cpu}', AOT binary '${aot_cpu}' (IlcInstructionSet lost Vector256/Vector512?)"
fi
finish
