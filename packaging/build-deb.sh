#!/usr/bin/env bash
# Builds the Debian package: target/debian/nsm-tui_VERSION_ARCH.deb.
#   bash packaging/build-deb.sh            - release build
#   NSM_DEB_PROFILE=dev bash packaging/build-deb.sh   - quicker, unoptimised (the CI test)
# Needs cargo-deb (`cargo install cargo-deb --locked`). The man pages and completions come from
# the binary being packaged (`nsm-tui generate-docs`), and the conffile is the example
# configuration with every key commented, so that it shows the defaults and changes none.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${NSM_DEB_PROFILE:-release}"
# NSM_DEB_NO_BUILD=1: package the binary already built for the profile (the CI test does).
[ -n "${NSM_DEB_NO_BUILD:-}" ] || cargo build --locked --profile "$profile" --bin nsm-tui
case "$profile" in dev) dir=debug ;; *) dir="$profile" ;; esac
target="${CARGO_TARGET_DIR:-target}"
# cargo-deb takes these assets from target/ beside Cargo.toml.
out=target/packaging
rm -rf "$out"
mkdir -p "$out"
"$target/$dir/nsm-tui" generate-docs "$out" >/dev/null
gzip -9n "$out"/man1/*.1
# The conffile is the example with every setting commented out: each line that is not blank,
# not a comment and not a `[section]` header (continuation lines of a multi-line value too).
sed -E '/^(#|\[[a-z_.0-9]+\]$|$)/!s/^/# /' nsm-tui.example.toml >"$out/config.toml"
cargo deb --no-build --profile "$profile" "$@"
