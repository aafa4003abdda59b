#!/usr/bin/env bash
# Prints a folder for LIBNODE_PATH when building for Windows with a GNU toolchain (after making it):
#   LIBNODE_PATH="$(scripts/libnode-stub.sh)" cargo build --target x86_64-pc-windows-gnu
#   LIBNODE_PATH="$(scripts/libnode-stub.sh arm64)" cargo zigbuild --target aarch64-pc-windows-gnullvm
# napi-build's windows-gnu branch (run by the napi crate's build script and by ours) panics unless
# a libnode.dll lies in LIBNODE_PATH, then links -lnode. With napi's `dyn-symbols` (Cargo.toml)
# the addon takes no symbol from it: N-API is looked up in node.exe at run time. So an empty
# libnode.dll beside a library that provides nothing satisfies both, and the .node imports system
# DLLs only: for x64 an empty import library of node.exe (a .def that exports nothing, through
# mingw's dlltool, apt gcc-mingw-w64-x86-64); for arm64, which Debian's mingw cannot target, an
# empty static archive (zig's lld takes it). Made at build time, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
arch="${1:-x64}"
dir="${CARGO_TARGET_DIR:-target}/libnode-stub-$arch"
mkdir -p "$dir"
case "$arch" in
  x64)
    if [ ! -f "$dir/libnode.dll.a" ]; then
      printf 'LIBRARY node.exe\nEXPORTS\n' >"$dir/node.def"
      x86_64-w64-mingw32-dlltool -m i386:x86-64 -d "$dir/node.def" -l "$dir/libnode.dll.a"
    fi
    ;;
  arm64) printf '!<arch>\n' >"$dir/libnode.a" ;;
  *) echo "libnode-stub.sh: unknown architecture $arch (x64 or arm64)" >&2; exit 2 ;;
esac
: >"$dir/libnode.dll"
cd "$dir" && pwd
