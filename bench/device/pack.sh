#!/usr/bin/env bash
# Packs what bench/device/run.sh needs on a machine with no Node.js and no network into
# .device/bench.tar.xz: dist/ (built here), package.json, bench/ (results left out) and only
# the node_modules the benchmark loads at runtime (bench/device/deps.js: the package's
# dependencies, fastify, autocannon, with theirs). The node binary travels separately as
# .device/node.xz. Run from anywhere: bash bench/device/pack.sh
#   PACK_NO_BUILD=1   use dist/ as it is instead of running npm run build first
#   PACK_OUT=path     write the archive elsewhere (default .device/bench.tar.xz)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
out=${PACK_OUT:-$root/.device/bench.tar.xz}

if [ "${PACK_NO_BUILD:-0}" != 1 ]; then npm run build --silent; fi
[ -f dist/index.js ] || { echo "pack: dist/index.js missing: run npm run build" >&2; exit 1; }

deps=$(node bench/device/deps.js)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/app"
cp -a dist package.json "$stage/app/"
# bench/ without its results (ignored, often large) and without this folder's pack leftovers.
tar -C "$root" --exclude=bench/results -cf - bench | tar -C "$stage/app" -xf -
# -h: the archive holds files, not links (the unpacking side extracts with Python's 'data' filter).
tar -C "$root" -chf - $deps | tar -C "$stage/app" -xf -
find "$stage/app/node_modules" -name .bin -prune -exec rm -rf {} +

{
  echo "packed: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ($(nproc) CPUs), node $(node --version)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- lib bench package.json 2>/dev/null || echo ' + uncommitted changes in lib/, bench/ or package.json')"
  echo "node_modules: $(echo "$deps" | wc -l) packages"
  for p in fastify tinypool autocannon pino; do echo "  $p $(node -p "require('./node_modules/$p/package.json').version")"; done
} > "$stage/app/PACKED.txt"

mkdir -p "$(dirname "$out")"
XZ_OPT=-6 tar -C "$stage/app" -cJf "$out.tmp" .
mv "$out.tmp" "$out"
cat "$stage/app/PACKED.txt"
echo "pack: $out ($(du -h "$out" | cut -f1))"
