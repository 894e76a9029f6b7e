#!/bin/sh
# systemd-analyze verify on the server's unit with ExecStart pointing at the built binary (skipped, exit 77,
# where systemd-analyze is absent).
set -eu
unit=$1 bin=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze not found"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
sed "s#/usr/bin/pvfleet-server#$bin#g" "$unit" > "$dir/pvfleet-server.service"
out=$(systemd-analyze verify "$dir/pvfleet-server.service" 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }
grep -q '^Type=notify$' "$unit"
grep -q '^WatchdogSec=' "$unit"
grep -q '^ExecStartPre=/usr/bin/pvfleet-server migrate ' "$unit"
grep -q '^ExecReload=/bin/kill -HUP \$MAINPID$' "$unit"
echo "ok"
