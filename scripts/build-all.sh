#!/usr/bin/env bash
# Builds the prebuilt binaries for every platform package into dist/artifacts (napi's naming:
# ipv4-force.<platform>.node). Needs the rustup targets, zig and cargo-zigbuild, and mingw-w64 for
# Windows x64 (.ci/platforms.sh installs them). `npm run build` still builds only the host binary.
#   npm run build:all                 all eight
#   npm run build:all -- linux-x64-gnu darwin-arm64   some of them
set -euo pipefail
cd "$(dirname "$0")/.."

# platform -> cargo target. glibc targets name the oldest glibc they may need (2.17, as Node's
# own prebuilt packages and napi-rs do), so the .node loads on Debian 11, RHEL 8, Amazon Linux 2.
declare -A TARGETS=(
  [linux-x64-gnu]=x86_64-unknown-linux-gnu.2.17
  [linux-arm64-gnu]=aarch64-unknown-linux-gnu.2.17
  [linux-x64-musl]=x86_64-unknown-linux-musl
  [linux-arm64-musl]=aarch64-unknown-linux-musl
  [darwin-x64]=x86_64-apple-darwin
  [darwin-arm64]=aarch64-apple-darwin
  [win32-x64-msvc]=x86_64-pc-windows-gnu
  [win32-arm64-msvc]=aarch64-pc-windows-gnullvm
)
ORDER=(linux-x64-gnu linux-arm64-gnu linux-x64-musl linux-arm64-musl darwin-x64 darwin-arm64 win32-x64-msvc
  win32-arm64-msvc)
OUT=dist/artifacts
mkdir -p "$OUT"

# Windows x64: built here with mingw-w64 (x86_64-pc-windows-gnu; plain cargo, whose default linker
# for that target is x86_64-w64-mingw32-gcc), and named for Node's official Windows build, which is
# MSVC-built: there binding.js loads ipv4-force.win32-x64-msvc.node, or the package
# ipv4-force-win32-x64-msvc, which npm installs on Windows x64 (its os/cpu fields: win32, x64).
# A -gnu name would be loaded only by a MinGW-built Node (binding.js tells them apart by
# process.config) and installed for nobody else. N-API is a C ABI, and the addon links no C++
# runtime and imports only system DLLs, so a mingw-built DLL works in the MSVC-built node.exe.
# napi-build needs LIBNODE_PATH there (scripts/libnode-stub.sh says why).
build_windows() {
  local target="$1"
  LIBNODE_PATH="$(scripts/libnode-stub.sh x64)" npx napi build --platform --release --target "$target" \
    --output-dir "$OUT" --no-js --dts .binding.d.ts
  mv "$OUT/ipv4-force.win32-x64-gnu.node" "$OUT/ipv4-force.win32-x64-msvc.node"
}

# Windows arm64: the same naming (Node's arm64 Windows build is MSVC-built too), linked by zig
# (cargo-zigbuild), which carries LLVM's mingw-w64 runtime for arm64 (Debian's mingw has no
# aarch64). The napi CLI refuses --cross-compile for gnullvm targets, hence cargo-zigbuild
# directly. zig's clang makes __DATE__ (mimalloc's options.c) an error: -Wno-date-time.
build_windows_arm64() {
  local target="$1"
  CFLAGS_aarch64_pc_windows_gnullvm=-Wno-date-time LIBNODE_PATH="$(scripts/libnode-stub.sh arm64)" \
    cargo zigbuild --release --target "$target"
  cp "${CARGO_TARGET_DIR:-target}/$target/release/ipv4_force.dll" "$OUT/ipv4-force.win32-arm64-msvc.node"
}

platforms=("$@")
[ ${#platforms[@]} -gt 0 ] || platforms=("${ORDER[@]}")
for platform in "${platforms[@]}"; do
  target="${TARGETS[$platform]:-}"
  [ -n "$target" ] || { echo "unknown platform: $platform (one of: ${ORDER[*]})" >&2; exit 2; }
  env=()
  case "$platform" in
    # The oldest macOS each Node 20 build supports; without it zig marks the dylib for the newest.
    # No strip: zig signs the arm64 dylib (macOS refuses unsigned arm64 code), strip would break it.
    darwin-x64) env=(MACOSX_DEPLOYMENT_TARGET=10.15 CARGO_PROFILE_RELEASE_STRIP=none) ;;
    darwin-arm64) env=(MACOSX_DEPLOYMENT_TARGET=11.0 CARGO_PROFILE_RELEASE_STRIP=none) ;;
  esac
  echo "== $platform ($target)"
  start=$SECONDS
  if [ "$platform" = win32-x64-msvc ]; then
    build_windows "$target"
  elif [ "$platform" = win32-arm64-msvc ]; then
    build_windows_arm64 "$target"
  else
    env "${env[@]}" npx napi build --platform --release --cross-compile --target "$target" \
      --output-dir "$OUT" --no-js --dts .binding.d.ts
  fi
  test -f "$OUT/ipv4-force.$platform.node" || { echo "missing $OUT/ipv4-force.$platform.node" >&2; exit 1; }
  echo "== $platform built in $((SECONDS - start)) s"
done
rm -f "$OUT/.binding.d.ts"
ls -l "$OUT"
