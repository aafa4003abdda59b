#!/usr/bin/env bash
# Runs Node's own test/parallel tests for net, tls, http, https, dns and http2-connect twice, plain
# and with NODE_OPTIONS=--require=<repo>/register.js, and lists the files whose outcome differs.
# Node's tests are not part of this project: they come from a checkout of Node's test/ tree (the
# GitHub mirror denoland/node_test) given with --suite. See tools/README.md.
#
# Every test file runs in its own network namespace (unshare -m -n) holding only `lo`: some tests
# put public addresses in mock lookups and nothing may leave the machine; a namespace per run also
# keeps the two parallel runs off each other's ports (common.PORT is fixed). /etc/hosts and
# /etc/resolv.conf are the tool's own there (localhost on 127.0.0.1 and ::1; DNS on 127.0.0.1,
# where nothing answers), so results do not depend on this machine's files.
#
# Usage: tools/node-suite.sh --suite DIR --node BIN [--out DIR] [--jobs N] [--timeout S]
#                            [--filter ERE] [--repo DIR]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
suite=''
node_bin=''
out="/tmp/ipv4-force-node-suite"
jobs=2
per_file_timeout=120
filter='^test-(net-|tls-|http-|https-|dns|http2-connect)'

# One file, one variant ("plain" or "patched"), in a fresh namespace. Prints the outcome:
# pass, skip, fail:<code>, signal:<name> or timeout.
run_one_variant() {
  local file=$1 variant=$2 log=$3
  local flags opts=''
  # Node's runner reads the `// Flags:` lines of a test; so do we.
  flags=$(sed -n 's|^// Flags: *||p' "$suite/test/parallel/$file" | tr '\n' ' ')
  [ "$variant" = patched ] && opts="--require=$repo/register.js"
  local rc=0
  # TEST_THREAD_ID gives each run its own test/.tmp.<id> directory.
  env -u NODE_OPTIONS NODE_OPTIONS="$opts" TEST_THREAD_ID="$variant-${file//[^A-Za-z0-9]/_}" \
    unshare -m -n sh -c '
      ip link set lo up || exit 90
      # Refuse to run with any interface besides lo.
      [ "$(ip -o link show | grep -vc " lo:")" = 0 ] || exit 91
      # The same /etc/hosts and resolv.conf for every run, whatever this machine has.
      mount --bind "$1/hosts" /etc/hosts && mount --bind "$1/resolv.conf" /etc/resolv.conf || exit 90
      cd "$2" && shift 2 && exec timeout -s KILL "$@"
    ' sh "$out/etc" "$suite" "$per_file_timeout" "$node_bin" $flags "test/parallel/$file" >"$log" 2>&1 || rc=$?
  if [ "$rc" = 0 ]; then
    if grep -q '^1\.\.0 # Skipped' "$log"; then echo skip; else echo pass; fi
  elif [ "$rc" = 137 ]; then echo timeout
  elif [ "$rc" = 90 ] || [ "$rc" = 91 ]; then echo "namespace-error:$rc"
  elif [ "$rc" -gt 128 ]; then echo "signal:$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128)))"
  else echo "fail:$rc"
  fi
}

run_one() {
  local file=$1 plain patched
  plain=$(run_one_variant "$file" plain "$out/logs/$file.plain.log")
  patched=$(run_one_variant "$file" patched "$out/logs/$file.patched.log")
  printf '%s\t%s\t%s\n' "$file" "$plain" "$patched" >>"$out/results.tsv"
  printf '%s plain=%s patched=%s\n' "$file" "$plain" "$patched"
}

if [ "${1:-}" = --one ]; then
  # Internal: one file, called through xargs with the settings in the environment.
  suite=$NS_SUITE node_bin=$NS_NODE out=$NS_OUT per_file_timeout=$NS_TIMEOUT repo=$NS_REPO
  run_one "$2"
  exit 0
fi

while [ $# -gt 0 ]; do
  case $1 in
    --suite) suite=$(cd "$2" && pwd); shift 2 ;;
    --node) node_bin=$(readlink -f "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --timeout) per_file_timeout=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --repo) repo=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

[ -n "$suite" ] && [ -d "$suite/test/parallel" ] || { echo "--suite DIR (holding test/parallel) is required" >&2; exit 2; }
[ -n "$node_bin" ] && [ -x "$node_bin" ] || { echo "--node BIN is required" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (unshare -m -n)" >&2; exit 2; }
unshare -m -n sh -c 'ip link set lo up' || { echo "cannot create a network namespace" >&2; exit 2; }
ls "$repo"/*.node >/dev/null 2>&1 || { echo "no compiled addon in $repo: npm run build first" >&2; exit 2; }

want=$(sed -n 's/^export const version = "\(.*\)";/\1/p' "$suite/node_version.ts" 2>/dev/null || true)
have=$("$node_bin" --version)
if [ -n "$want" ] && [ "v$want" != "$have" ]; then
  echo "warning: the suite tracks Node $want, $node_bin is $have: expect failures that are not ours" >&2
fi

rm -rf "$out"
mkdir -p "$out/logs" "$out/etc"
# What Node's CI hosts have: localhost on both loopbacks. Name lookups that reach DNS get a
# refused port on 127.0.0.1, at once, the same way in both variants.
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$out/etc/hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$out/etc/resolv.conf"
: >"$out/results.tsv"
files=$(cd "$suite/test/parallel" && ls | grep -E "$filter" | grep -E '\.(js|mjs|cjs)$' | sort)
echo "$(echo "$files" | wc -l) files, node $have, $jobs in parallel, ${per_file_timeout}s each; logs in $out" >&2

export NS_SUITE=$suite NS_NODE=$node_bin NS_OUT=$out NS_TIMEOUT=$per_file_timeout NS_REPO=$repo
echo "$files" | xargs -P "$jobs" -I{} "$0" --one {}

# The report: counts, then every file whose outcome changed, with the tail of its patched output.
sort -o "$out/results.tsv" "$out/results.tsv"
{
  total=$(wc -l <"$out/results.tsv")
  plain_pass=$(awk -F'\t' '$2 == "pass" || $2 == "skip"' "$out/results.tsv" | wc -l)
  patched_pass=$(awk -F'\t' '$3 == "pass" || $3 == "skip"' "$out/results.tsv" | wc -l)
  differ=$(awk -F'\t' '$2 != $3' "$out/results.tsv" | wc -l)
  echo "node $have; $total files; pass or skip: plain $plain_pass, patched $patched_pass; outcome differs: $differ"
  awk -F'\t' '$2 != $3' "$out/results.tsv" | while IFS=$'\t' read -r file plain patched; do
    echo
    echo "=== $file: plain $plain, patched $patched"
    tail -n 15 "$out/logs/$file.patched.log" | sed 's/^/    /'
  done
} >"$out/differences.txt"
cat "$out/differences.txt"
