# Over-the-air updates on the emulated board (sourced by cross/vm-test --ota BUILD_DIR; docs/updates.md, "Tests").
# The board runs v1 (the packages under test). pvfleet-server runs on the host (HTTPS with a certificate for
# 10.0.2.2, the test's broker, releases signed by a key made here) and rolls out, one after the other:
#   v2  the same sources built as another version → the site ends healthy, the board runs v2;
#   v3  a package whose agent never starts → the updater reinstalls v2 by itself, the site ends rolled_back;
#   v4  another good build, and the board's power is cut (QEMU's system_reset) while the updater installs it →
#       after the boot the update finishes on a working version (v4 healthy, or v2 reinstalled), dpkg's database
#       is clean and no stored telemetry row older than the last minute is lost.
# Versions are built by relinking BUILD_DIR's pvfleet-edge with PVFLEET_VERSION_OVERRIDE (one source file holds
# the version) and repacking the v1 package around it; the build tree is set back afterwards.
# Uses vm-test's helpers: check, require, phase, vm_ssh, vm_monitor, rows, rows_kept_but_last_minute, …

ota_build=$1
ota=$work/ota
mkdir -p "$ota"
edge_deb=${debs[1]}   # pvfleet-common, pvfleet-edge, pvfleet-sim
v1=$(dpkg-deb -f "$edge_deb" Version)
v2="$v1+vmtest2" v3="$v1+vmtest3" v4="$v1+vmtest4"
case "$arch" in arm64) strip_tool=aarch64-linux-gnu-strip;; armhf) strip_tool=arm-linux-gnueabihf-strip;; esac

# ---- the releases: build, repack, sign ----
edge_binary() {  # VERSION OUT: pvfleet-edge of BUILD_DIR relinked to report VERSION, stripped as packaged
  cmake -DPVFLEET_VERSION_OVERRIDE="$1" "$ota_build" > /dev/null
  cmake --build "$ota_build" --target pvfleet-edge > "$ota/build-$1.log" 2>&1 || { tail -n 20 "$ota/build-$1.log"; return 1; }
  "$strip_tool" --strip-unneeded -o "$2" "$ota_build/bin/pvfleet-edge"
}
repack() {  # VERSION BINARY: the v1 package with this version and this /usr/bin/pvfleet-edge
  local root=$ota/root-$1 out=$ota/pvfleet-edge_$1_$arch.deb
  rm -rf "$root"
  dpkg-deb -R "$edge_deb" "$root"
  install -m 0755 "$2" "$root/usr/bin/pvfleet-edge"
  sed -i "s/^Version: .*/Version: $1/" "$root/DEBIAN/control"
  sed -i "s|^[0-9a-f]*  usr/bin/pvfleet-edge\$|$(md5sum < "$2" | cut -d' ' -f1)  usr/bin/pvfleet-edge|" \
    "$root/DEBIAN/md5sums"
  dpkg-deb --root-owner-group -Zxz -b "$root" "$out" > /dev/null
  scripts/sign-release "$out" --key "$ota/release.key" > /dev/null
  echo "$out"
}
make_releases() {
  scripts/sign-release --new-key "$ota/release" > /dev/null
  edge_binary "$v2" "$ota/edge-v2" && edge_binary "$v4" "$ota/edge-v4" || return 1
  cmake -DPVFLEET_VERSION_OVERRIDE= "$ota_build" > /dev/null   # the tree builds v1 again
  cmake --build "$ota_build" --target pvfleet-edge > /dev/null
  # v3: an agent that exits at once, as a broken build would; it never reports healthy.
  printf '#!/bin/sh\necho "pvfleet-edge %s: this build is broken on purpose (boot test)" >&2\nexit 1\n' "$v3" \
    > "$ota/edge-v3"
  deb_v2=$(repack "$v2" "$ota/edge-v2") && deb_v3=$(repack "$v3" "$ota/edge-v3") && deb_v4=$(repack "$v4" "$ota/edge-v4")
}
require "OTA: releases $v2, $v3 (broken) and $v4 built from $ota_build and signed" make_releases

# ---- pvfleet-server on the host ----
https_port=$(vm_free_port)
scripts/pki init "$ota/pki" > /dev/null
scripts/pki broker "$ota/pki" 10.0.2.2 127.0.0.1 > /dev/null   # a serverAuth certificate for these addresses
mkdir -p "$ota/release-keys" && cp "$ota/release.pem" "$ota/release-keys/"
python3 - "$ota" "$broker_port" "$https_port" "$site" <<'PY'
import json, sys
ota, broker, port, site = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
json.dump({"database": {"kind": "sqlite", "path": "server.db"},
           "mqtt": {"uri": "tcp://127.0.0.1:%d" % broker, "client_id": "pvfleet-server-vmtest"},
           "http": {"listen": "127.0.0.1", "port": port, "public_url": "https://10.0.2.2:%d" % port,
                    "tls": {"cert_file": "pki/broker.crt", "key_file": "pki/broker.key"}},
           "releases": {"dir": "releases", "keys_dir": "release-keys", "tick_s": 2}},
          open(ota + "/server.json", "w"), indent=1)
with open(ota + "/customers.csv", "w") as f:
    f.write("customer_name,phone,email,address,notes,site_id,site_name,site_address,latitude,longitude,time_zone,"
            "kwp,tilt,azimuth\n")
    f.write("Board Test,+49 171 555 0199,board@example.org,Teststr. 1,,%s,Board,Teststr. 1,45,0,UTC,8.4,35,180\n" % site)
PY
server_bin=${PVFLEET_SERVER_BIN:-build/dev/bin/pvfleet-server}
[[ -x "$server_bin" ]] || server_bin=$(command -v pvfleet-server || true)
[[ -z "$server_bin" ]] || server_bin=$(realpath "$server_bin")
ota_password=$(head -c 12 /dev/urandom | base64)
echo "$ota_password" > "$ota/password"
start_server() {
  [[ -n "$server_bin" && -x "$server_bin" ]] || { echo "vm-test: no pvfleet-server (PVFLEET_SERVER_BIN)"; return 1; }
  (cd "$ota" && "$server_bin" user add --config server.json --name admin --role admin --display-name Admin \
     <<< "$ota_password" > user.log 2>&1 && "$server_bin" import customers customers.csv --config server.json \
     > import.log 2>&1) || { cat "$ota/user.log" "$ota/import.log"; return 1; }
  (cd "$ota" && exec "$server_bin" run --config server.json > server.log 2>&1) &
  pids+=($!)
  for _ in $(seq 60); do
    curl -s --cacert "$ota/pki/ca.crt" -o /dev/null "https://127.0.0.1:$https_port/" 2>/dev/null && return 0
    sleep 1
  done
  tail -n 20 "$ota/server.log"; return 1
}
require "OTA: pvfleet-server on the host answers over HTTPS ($server_bin)" start_server
api() {
  cross/vm/ota-api --url "https://127.0.0.1:$https_port" --ca "$ota/pki/ca.crt" --user admin \
    --password-file "$ota/password" "$@"
}

# ---- the board: the server's CA beside the site config, the test's release key ----
vm_ssh "mkdir -p /etc/pvfleet/pki && cat > /etc/pvfleet/pki/server-ca.crt && chmod 0644 /etc/pvfleet/pki/server-ca.crt" \
  < "$ota/pki/ca.crt"
vm_ssh "cat > /usr/share/pvfleet/release-keys/vmtest.pem" < "$ota/release.pem"
board_version() { vm_ssh "dpkg-query -W -f '\${Version}' pvfleet-edge"; }
agent_reports() {  # the running agent says it is version $1 (--version of the installed binary, and it is active)
  vm_ssh "systemctl is-active -q pvfleet-edge && [ \"\$(pvfleet-edge --version)\" = 'pvfleet-edge $1' ]"
}
dpkg_clean() { [[ -z "$(vm_ssh 'dpkg --audit')" ]]; }
save_update_logs() {
  vm_ssh "journalctl -b -u pvfleet-edge-update --no-pager; cat /var/lib/pvfleet/update/*.json" \
    > "$ota/updater-$1.log" 2>&1 || true
}
phase "OTA setup"

upload_releases() {
  api upload "$deb_v2" "$deb_v2.sig" > /dev/null && api upload "$deb_v3" "$deb_v3.sig" > /dev/null \
    && api upload "$deb_v4" "$deb_v4.sig" > /dev/null && api settings "$site" "$arch"
}
require "OTA: three signed releases uploaded to the server, the site's architecture set" upload_releases

# ---- v2: healthy ----
rollout_to() {  # VERSION EXPECTED_STATE TIMEOUT: a rollout to the site ends in this state (the site's final
                # state and the gateway's reason printed)
  local id outcome; id=$(api rollout "$1" "$site") || return 1
  outcome=$(api wait "$id" "$site" healthy,rolled_back,failed "$3") || true
  echo "vm-test: rollout of $1: $outcome"
  [[ "$outcome" == "$2 "* ]]
}
check "OTA: rollout of $v2 ends healthy" rollout_to "$v2" healthy 900 || true
check "OTA: the board runs $v2 (dpkg and the agent)" \
  eval '[[ "$(board_version)" == "$v2" ]] && agent_reports "$v2"' || true
sent=$(telemetry_count)
check "OTA: telemetry arrives from $v2" telemetry_after "$sent" 240 || true
save_update_logs v2
phase "OTA v2"

# ---- v3: its agent never starts → rolled back to v2 ----
rows ota-v3-before
check "OTA: rollout of the broken $v3 ends rolled_back" rollout_to "$v3" rolled_back 1200 || true
check "OTA: after the rollback the board runs $v2 again (dpkg and the agent)" \
  eval '[[ "$(board_version)" == "$v2" ]] && agent_reports "$v2"' || true
rows ota-v3-after
check "OTA: the rollback lost no stored row" rows_kept ota-v3-before ota-v3-after || true
sent=$(telemetry_count)
check "OTA: telemetry arrives after the rollback" telemetry_after "$sent" 240 || true
save_update_logs v3
phase "OTA v3 rolled back"

# ---- v4: power cut while the updater installs it ----
id=$(api rollout "$v4" "$site") || id=0
installing() {  # within $1 s the updater is in its installing (or verifying) phase
  vm_ssh "for i in \$(seq $(( $1 * 2 ))); do grep -qE '\"phase\": *\"(installing|verifying)\"' \
          /var/lib/pvfleet/update/state.json 2>/dev/null && exit 0; sleep 0.5; done; exit 1"
}
check "OTA: the updater starts installing $v4" installing 900 || true
cut_phase=$(vm_ssh "grep -o '\"phase\": *\"[a-z_]*\"' /var/lib/pvfleet/update/state.json" 2>/dev/null || true)
rows ota-cut-before
cut_ms=$(vm_ssh "date +%s%3N")
boot_id=$(vm_ssh "cat /proc/sys/kernel/random/boot_id")
vm_monitor "$work/monitor.sock" system_reset
echo "vm-test: power cut during the update ($cut_phase)"
sleep 5
require "OTA power cut: board answers over ssh again" vm_wait_ssh 900
check "OTA power cut: the board rebooted (new boot id)" \
  [ "$(vm_ssh "cat /proc/sys/kernel/random/boot_id")" != "$boot_id" ] || true
ota_outcome=$(api wait "$id" "$site" healthy,rolled_back,failed 1200) || true
echo "vm-test: rollout of $v4 after the power cut: $ota_outcome"
check "OTA power cut: the update finishes on a working version (healthy or rolled_back)" \
  eval '[[ "$ota_outcome" == healthy* || "$ota_outcome" == rolled_back* ]]' || true
final=$(board_version)
echo "vm-test: the board runs $final after the power cut"
check "OTA power cut: dpkg's database is clean (dpkg --audit)" dpkg_clean || true
check "OTA power cut: the agent runs the installed version ($final)" agent_reports "$final" || true
check "OTA power cut: the update was cleared (no request.json)" \
  vm_ssh "! test -e /var/lib/pvfleet/update/request.json" || true
rows ota-cut-after
check "OTA power cut: no stored row older than the last minute lost" \
  rows_kept_but_last_minute ota-cut-before ota-cut-after "$cut_ms" || true
check "OTA power cut: integrity_check ok" integrity_ok || true
sent=$(telemetry_count)
check "OTA power cut: telemetry arrives again" telemetry_after "$sent" 240 || true
save_update_logs cut
phase "OTA power cut"
