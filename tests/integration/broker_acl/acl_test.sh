#!/usr/bin/env bash
# Reserved site ids (pvfleet-server, pvfleet, broker, ca, pvfleet-…) are refused by scripts/pki, and the broker
# ACL (firmware-config/broker/acl) lets nothing through on their topics even for a user that has such a name;
# a real site still gets through. Usage: acl_test.sh SOURCE_DIR. Prints "N passed, N failed".
set -uo pipefail
src=${1:?usage: acl_test.sh SOURCE_DIR}
passed=0 failed=0
check() {  # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $what" >&2; fi
}
for tool in mosquitto mosquitto_passwd mosquitto_pub mosquitto_sub openssl; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not installed"; echo "0 passed, 0 failed"; exit 0; }
done
dir=$(mktemp -d)
broker_pid=
cleanup() { [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

# scripts/pki: no site certificate or broker password with a reserved or malformed name.
"$src/scripts/pki" init "$dir/pki" >/dev/null
for id in pvfleet-server pvfleet pvfleet-backup broker ca Bad_Id a/b ""; do
  check "pki site '$id' refused" bash -c "! '$src/scripts/pki' site '$dir/pki' '$id' >/dev/null 2>&1"
  check "no certificate for '$id'" test ! -e "$dir/pki/site-$id.crt"
  [[ $id == pvfleet-server ]] || check "pki password '$id' refused" bash -c "! '$src/scripts/pki' password '$dir/pki' '$id' pw >/dev/null 2>&1"
done
check "pki site site-a issued" bash -c "'$src/scripts/pki' site '$dir/pki' site-a >/dev/null"

# The broker: password users standing in for certificates with those names (the broker takes a certificate's
# CN as the user name just as it takes a password user's name).
mosquitto_passwd -c -b "$dir/passwords" pvfleet-server server-pw >/dev/null
for user in site-a broker ca pvfleet; do mosquitto_passwd -b "$dir/passwords" "$user" "$user-pw" >/dev/null; done
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous false
password_file $dir/passwords
acl_file $src/firmware-config/broker/acl
CONF
# As root, mosquitto would switch to its own user, which cannot read the test's private folder.
[[ $(id -u) -eq 0 ]] && echo "user root" >>"$dir/mosquitto.conf"
mosquitto -c "$dir/mosquitto.conf" >"$dir/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 100); do
  mosquitto_pub -p "$port" -u site-a -P site-a-pw -t probe -n 2>/dev/null && break
  sleep 0.1
done

# The server's subscription, as pvfleet-server; it ends after the last message below (the end marker).
mosquitto_sub -p "$port" -u pvfleet-server -P server-pw -q 1 -t 'pvfleet/v1/sites/+/telemetry' \
  -t 'pvfleet/v1/sites/+/status' -v -W 20 >"$dir/received" 2>"$dir/sub.log" &
sub_pid=$!
for _ in $(seq 100); do grep -q "u'pvfleet-server'" "$dir/broker.log" && break; sleep 0.1; done
sleep 0.3  # the subscription is sent right after the connection
for user in broker ca pvfleet; do
  mosquitto_pub -p "$port" -u "$user" -P "$user-pw" -q 1 -t "pvfleet/v1/sites/$user/telemetry" -m "from-$user"
done
mosquitto_pub -p "$port" -u pvfleet-server -P server-pw -q 1 -t pvfleet/v1/sites/pvfleet-server/telemetry -m from-server
mosquitto_pub -p "$port" -u site-a -P site-a-pw -q 1 -t pvfleet/v1/sites/site-a/telemetry -m from-site-a
mosquitto_pub -p "$port" -u site-a -P site-a-pw -q 1 -t pvfleet/v1/sites/site-a/status -m end
for _ in $(seq 200); do grep -q ' end$' "$dir/received" && break; sleep 0.1; done
kill "$sub_pid" 2>/dev/null; wait "$sub_pid" 2>/dev/null

check "a real site gets through" grep -qx 'pvfleet/v1/sites/site-a/telemetry from-site-a' "$dir/received"
for name in broker ca pvfleet pvfleet-server; do
  check "nothing on the topics of '$name'" bash -c "! grep -q 'sites/$name/' '$dir/received'"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
