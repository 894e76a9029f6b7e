#!/usr/bin/env bash
# Zero-touch enrollment end to end (docs/fleet-enrollment.md): a root CA and an online issuing CA (scripts/pki), a
# real mosquitto that requires client certificates (its cafile: root + issuing CA), pvfleet-server over HTTPS with
# the issuing CA, and pvfleet-edge enroll. The enrolled gateway's certificate then connects to the broker and its
# telemetry reaches the server's database; the same code again, an expired code, a wrong code are refused with the
# server's reason and audited; the per-address rate limit trips.
# Usage: enroll_flow_test.sh SOURCE_DIR PVFLEET_SERVER PVFLEET_EDGE. Prints "N passed, N failed".
set -uo pipefail
src=${1:?usage: enroll_flow_test.sh SOURCE_DIR SERVER EDGE} server_bin=${2:?} edge_bin=${3:?}
passed=0 failed=0
check() {  # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $what" >&2; fi
}
for tool in mosquitto mosquitto_pub openssl sqlite3 python3; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not installed"; echo "0 passed, 0 failed"; exit 0; }
done
dir=$(mktemp -d)
broker_pid= server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
  [[ -n $broker_pid ]] && kill "$broker_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # seconds, then a command; polls every 0.1 s
  local n=$(( $1 * 10 )); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

# PKI: the root signs the broker, the server's MQTT client certificate and the issuing CA.
pki=$dir/pki
"$src/scripts/pki" init "$pki" >/dev/null
"$src/scripts/pki" issuing "$pki" >/dev/null
"$src/scripts/pki" broker "$pki" 127.0.0.1 >/dev/null
"$src/scripts/pki" server "$pki" >/dev/null
check "issuing CA chains to the root" openssl verify -CAfile "$pki/ca.crt" "$pki/issuing-ca.crt"
# The server's HTTPS certificate (self-signed here; the gateway is given it with --ca).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/https.key" -out "$dir/https.crt" 2>/dev/null
chmod 600 "$dir/https.key"

# The broker: TLS only, client certificates required, the certificate's CN as the user name, the fleet's ACL.
mqtt_port=$(free_port)
cat >"$dir/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
listener $mqtt_port 127.0.0.1
cafile $pki/broker-trust.crt
certfile $pki/broker.crt
keyfile $pki/broker.key
require_certificate true
use_identity_as_username true
acl_file $src/firmware-config/broker/acl
CONF
[[ $(id -u) -eq 0 ]] && echo "user root" >>"$dir/mosquitto.conf"
mosquitto -c "$dir/mosquitto.conf" >"$dir/broker.log" 2>&1 &
broker_pid=$!
check "broker listens" wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/$mqtt_port" 2>/dev/null

# The server: HTTPS, MQTT ingest as pvfleet-server, enrollment with the issuing CA and a small per-address limit.
cat >"$dir/server.json" <<JSON
{
  "database": {"kind": "sqlite", "path": "$dir/server.db"},
  "mqtt": {"uri": "ssl://127.0.0.1:$mqtt_port", "client_id": "pvfleet-server-enroll-test",
           "tls": {"ca_file": "pki/ca.crt", "cert_file": "pki/server.crt", "key_file": "pki/server.key"}},
  "http": {"listen": "127.0.0.1", "port": 0, "tls": {"cert_file": "https.crt", "key_file": "https.key"}},
  "enrollment": {"ca_cert_file": "pki/issuing-ca.crt", "ca_key_file": "pki/issuing-ca.key",
                 "ca_chain_file": "pki/ca.crt", "broker_uri": "ssl://127.0.0.1:$mqtt_port",
                 "rate_limit": {"per_address": 6, "global": 1000, "window_s": 600}}
}
JSON
cat >"$dir/customers.csv" <<CSV
customer_name,site_id,site_name,latitude,longitude,time_zone
Erika Muster,enr-site-1,Roof,47.99,7.85,Europe/Berlin
CSV
check "site imported" bash -c "'$server_bin' import customers '$dir/customers.csv' --config '$dir/server.json' >'$dir/import.log' 2>&1"
check "check-config loads the issuing CA" bash -c "'$server_bin' check-config --config '$dir/server.json' >'$dir/check.log' 2>&1"
code=$("$server_bin" enroll-code create --config "$dir/server.json" --site enr-site-1 2>"$dir/code.log")
check "code printed as XXXX-XXXX-XXXX-XXXX" bash -c "[[ '$code' =~ ^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$ ]]"
check "no code for an unknown site" bash -c "! '$server_bin' enroll-code create --config '$dir/server.json' --site nope >/dev/null 2>&1"
short=$("$server_bin" enroll-code create --config "$dir/server.json" --site enr-site-1 --ttl 1s 2>/dev/null)

"$server_bin" run --config "$dir/server.json" >"$dir/server.log" 2>&1 &
server_pid=$!
check "server listens over HTTPS" wait_for 30 grep -q "http listening on" "$dir/server.log"
http_port=$(sed -n 's/.*http listening on [^:]*:\([0-9]*\).*/\1/p' "$dir/server.log" | head -1)
check "server connected to the broker" wait_for 20 grep -q "connected to ssl://" "$dir/server.log"

# Enroll: a gateway without a site config yet.
gw=$dir/gateway
mkdir -p "$gw"
enroll() { "$edge_bin" enroll --server "https://127.0.0.1:$http_port" --ca "$dir/https.crt" "$@"; }
check "pvfleet-edge enroll succeeds" bash -c "$(declare -f enroll); edge_bin='$edge_bin' http_port=$http_port dir='$dir' \
  enroll --code '$code' --config '$gw/site.json' >'$dir/enroll.log' 2>&1"
check "key is mode 0600" bash -c "[[ \$(stat -c %a '$gw/pki/site.key') == 600 ]]"
check "certificate CN is the site" bash -c "openssl x509 -in '$gw/pki/site.crt' -noout -subject | grep -q 'CN *= *enr-site-1'"
check "certificate verifies up to the root" openssl verify -CAfile "$gw/pki/ca.crt" "$gw/pki/site.crt"
check "certificate is for the gateway's key" bash -c "[[ \$(openssl x509 -in '$gw/pki/site.crt' -noout -pubkey) == \$(openssl pkey -in '$gw/pki/site.key' -pubout) ]]"
check "enrollment.json names the site and the broker" bash -c "grep -q '\"site_id\": \"enr-site-1\"' '$gw/enrollment.json' && grep -q 'ssl://127.0.0.1:$mqtt_port' '$gw/enrollment.json'"
check "no pending key left" test ! -e "$gw/pki/site.key.pending"
check "issued certificate recorded" bash -c "[[ \$(sqlite3 '$dir/server.db' \"SELECT COUNT(*) FROM site_certificates WHERE site_id = 'enr-site-1'\") == 1 ]]"

# The enrolled certificate at the broker: telemetry for its own site reaches the server's database.
now_ms=$(( $(date +%s) * 1000 ))
payload="{\"v\":1,\"kind\":\"telemetry\",\"site_id\":\"enr-site-1\",\"seq\":1,\"sent_at\":$now_ms,\"devices\":[{\"device_id\":\"inv1\",\"t0\":$now_ms,\"dt\":[0],\"points\":{\"ac_power_w\":[1234.5]}}]}"
check "enrolled gateway publishes over mTLS" mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" --cafile "$gw/pki/ca.crt" \
  --cert "$gw/pki/site.crt" --key "$gw/pki/site.key" -q 1 -t pvfleet/v1/sites/enr-site-1/telemetry -m "$payload"
check "telemetry ingested for the site" wait_for 20 bash -c \
  "[[ \$(sqlite3 '$dir/server.db' \"SELECT COUNT(*) FROM telemetry_raw WHERE site_id = 'enr-site-1'\") -ge 1 ]]"
check "a certificate the fleet CA did not issue is refused by the broker" bash -c "! mosquitto_pub -h 127.0.0.1 -p $mqtt_port \
  --cafile '$pki/ca.crt' --cert '$dir/https.crt' --key '$dir/https.key' -q 1 -t pvfleet/v1/sites/enr-site-1/telemetry -m x 2>/dev/null"

# Refusals, each with the server's reason, and audited.
refused() {  # reason, then enroll's arguments
  local reason=$1; shift
  local out
  out=$(enroll "$@" 2>&1) && return 1
  [[ $out == *"($reason)"* ]] || { echo "expected $reason, got: $out" >&2; return 1; }
}
check "the same code again is refused" refused used_code --code "$code" --config "$dir/gw2/site.json"
sleep 1.2  # the 1-second code's lifetime is what is under test
check "an expired code is refused" refused expired_code --code "$short" --config "$dir/gw3/site.json"
wrong=$(python3 -c '
import random
a = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
while True:
    s = [random.choice(a) for _ in range(15)]
    total, factor = 0, 2
    for c in reversed(s):
        v = factor * a.index(c); factor = 1 if factor == 2 else 2
        total += v // 32 + v % 32
    print("".join(s) + a[(32 - total % 32) % 32]); break')
check "a wrong code is refused" refused unknown_code --code "$wrong" --config "$dir/gw4/site.json"
check "a mistyped code is refused" refused malformed_code --code "${wrong:0:15}$( [[ ${wrong:15:1} == A ]] && echo B || echo A)" --config "$dir/gw5/site.json"
for reason in used_code expired_code unknown_code malformed_code; do
  check "refusal audited: $reason" bash -c "[[ \$(sqlite3 '$dir/server.db' \"SELECT COUNT(*) FROM audit_log WHERE action = 'enroll refused' AND after_json LIKE '%$reason%'\") -ge 1 ]]"
done
check "no credentials after a refusal" test ! -e "$dir/gw2/pki/site.key"
# Six attempts per address per window: the sixth is still answered, the next ones are limited.
check "sixth attempt still answered" refused unknown_code --code 0000-0000-0000-0000 --config "$dir/gw6/site.json"
check "the rate limit trips" refused rate_limited --code "$code" --config "$dir/gw7/site.json"

echo "$passed passed, $failed failed"
if [[ $failed -gt 0 ]]; then
  echo "--- server log" >&2; tail -30 "$dir/server.log" >&2
  echo "--- enroll log" >&2; cat "$dir/enroll.log" >&2
  exit 1
fi
