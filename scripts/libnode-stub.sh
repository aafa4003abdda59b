#!/usr/bin/env bash
# Prints a folder for LIBNODE_PATH when building for x86_64-pc-windows-gnu (after making it):
#   LIBNODE_PATH="$(scripts/libnode-stub.sh)" cargo build --target x86_64-pc-windows-gnu
# napi-build's windows-gnu branch (run by the napi crate's build script and by ours) panics unless
# a libnode.dll lies in LIBNODE_PATH, then links -lnode. With napi's `dyn-symbols` (Cargo.toml)
# the addon takes no symbol from it: N-API is looked up in node.exe at run time. So an empty
# import library of node.exe (a .def that exports nothing, through mingw's dlltool, apt
# gcc-mingw-w64-x86-64) beside an empty libnode.dll satisfies both, and the .node imports system
# DLLs only. Made at build time, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-${CARGO_TARGET_DIR:-target}/libnode-stub}"
mkdir -p "$dir"
if [ ! -f "$dir/libnode.dll.a" ]; then
  printf 'LIBRARY node.exe\nEXPORTS\n' >"$dir/node.def"
  x86_64-w64-mingw32-dlltool -m i386:x86-64 -d "$dir/node.def" -l "$dir/libnode.dll.a"
  : >"$dir/libnode.dll"
fi
cd "$dir" && pwd
