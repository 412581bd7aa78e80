#!/usr/bin/env bash
# Refreshes the Swagger UI files that /docs serves from the binary.
#
# They come unmodified from the swagger-ui-dist package on the npm registry
# (the official prebuilt Swagger UI): only the files /docs loads, plus the
# licence. The package's tarball is checked against the integrity hash pinned
# below, so a refresh of the same version is byte-for-byte reproducible.
#
#   httpapi/docsassets/update.sh              # the pinned version
#   httpapi/docsassets/update.sh 5.36.0 sha512-...   # move to another version
#
# Needs npm, tar, openssl and base64. After a version change, update
# Version in doc.go and check that the files still total under 2 MiB.
set -euo pipefail

VERSION="${1:-5.35.0}"
INTEGRITY="${2:-sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==}"
FILES=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

(cd "$tmp" && npm pack --silent "swagger-ui-dist@${VERSION}" >/dev/null)
tgz="$tmp/swagger-ui-dist-${VERSION}.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [[ "$got" != "$INTEGRITY" ]]; then
	echo "update.sh: swagger-ui-dist@${VERSION} integrity is $got, expected $INTEGRITY" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp"
for f in "${FILES[@]}"; do
	cp "$tmp/package/$f" "$here/$f"
done
echo "swagger-ui-dist@${VERSION}: copied ${FILES[*]}"
du -cb "${FILES[@]/#/$here/}" | tail -1
