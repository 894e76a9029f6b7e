#!/usr/bin/env bash
# The certificate lifecycle end to end (docs/fleet-enrollment.md, "Certificate lifecycle"): scripts/pki's root,
# its CRL and the issuing CA; pvfleet-server over HTTPS writing the broker's CRL; a real mosquitto with TLS,
# client certificates and that crlfile. Gateway A enrolls and syncs; new hardware (gateway B) enrolls for the same
# site with a new code: A's certificate is revoked, the broker (restarted by the CRL's reload command) refuses A and
# takes B, and the site keeps A's telemetry. B renews over HTTPS with its current key, syncs with the renewed
# certificate; the back office revokes it: the broker refuses B's reconnect with either certificate, and a revoked
# certificate cannot renew. Also observed and printed: whether mosquitto reloads its crlfile on SIGHUP.
# Usage: lifecycle_flow_test.sh SOURCE_DIR PVFLEET_SERVER PVFLEET_EDGE. Prints "N passed, N failed".
set -uo pipefail
src=${1:?usage: lifecycle_flow_test.sh SOURCE_DIR SERVER EDGE} server_bin=${2:?} edge_bin=${3:?}
passed=0 failed=0
check() {  # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $what" >&2; fi
}
for tool in mosquitto mosquitto_pub openssl sqlite3 python3 curl; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool not installed"; echo "0 passed, 0 failed"; exit 0; }
done
dir=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null
  [[ -f $dir/mosquitto.pid ]] && kill "$(cat "$dir/mosquitto.pid")" 2>/dev/null
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

pki=$dir/pki
"$src/scripts/pki" init "$pki" >/dev/null
"$src/scripts/pki" issuing "$pki" >/dev/null
"$src/scripts/pki" crl "$pki" >/dev/null
"$src/scripts/pki" broker "$pki" 127.0.0.1 >/dev/null
"$src/scripts/pki" server "$pki" >/dev/null
check "the root's CRL verifies" openssl crl -in "$pki/root.crl" -CAfile "$pki/ca.crt" -noout
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$dir/https.key" -out "$dir/https.crt" 2>/dev/null
chmod 600 "$dir/https.key"

# The broker: the shipped settings that matter here (TLS, client certificates, CN as user, the ACL, the crlfile).
mqtt_port=$(free_port)
cat >"$dir/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous false
pid_file $dir/mosquitto.pid
persistence true
persistence_location $dir/
log_dest file $dir/broker.log
listener $mqtt_port 127.0.0.1
cafile $pki/broker-trust.crt
certfile $pki/broker.crt
keyfile $pki/broker.key
require_certificate true
use_identity_as_username true
crlfile $dir/broker.crl
acl_file $src/firmware-config/broker/acl
CONF
[[ $(id -u) -eq 0 ]] && echo "user root" >>"$dir/mosquitto.conf"
start_broker() { rm -f "$dir/mosquitto.pid"; mosquitto -c "$dir/mosquitto.conf" -d && wait_for 10 test -s "$dir/mosquitto.pid" &&
  wait_for 10 bash -c "echo >/dev/tcp/127.0.0.1/$mqtt_port" 2>/dev/null; }
# The reload command the server runs after writing the CRL: here it restarts the broker (what the shipped
# pvfleet-broker-crl.path does with systemctl), once the broker runs; every call is counted.
cat >"$dir/reload-broker" <<SH
#!/usr/bin/env bash
echo reload >>"$dir/reloads"
[[ -f "$dir/broker-started" ]] || exit 0
pid=\$(cat "$dir/mosquitto.pid" 2>/dev/null) && kill "\$pid" 2>/dev/null
for _ in \$(seq 50); do kill -0 "\$pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$dir/mosquitto.pid"
mosquitto -c "$dir/mosquitto.conf" -d
SH
chmod +x "$dir/reload-broker"

cat >"$dir/server.json" <<JSON
{
  "database": {"kind": "sqlite", "path": "$dir/server.db"},
  "mqtt": {"uri": "ssl://127.0.0.1:$mqtt_port", "client_id": "pvfleet-server-lifecycle-test",
           "tls": {"ca_file": "pki/ca.crt", "cert_file": "pki/server.crt", "key_file": "pki/server.key"}},
  "http": {"listen": "127.0.0.1", "port": 0, "tls": {"cert_file": "https.crt", "key_file": "https.key"}},
  "enrollment": {"ca_cert_file": "pki/issuing-ca.crt", "ca_key_file": "pki/issuing-ca.key",
                 "ca_chain_file": "pki/ca.crt", "broker_uri": "ssl://127.0.0.1:$mqtt_port",
                 "crl": {"file": "broker.crl", "root_crl_file": "pki/root.crl", "days": 30,
                         "reload_command": "$dir/reload-broker"}}
}
JSON
printf 'customer_name,site_id,site_name,latitude,longitude,time_zone\nErika Muster,lc-site-1,Roof,47.99,7.85,Europe/Berlin\n' >"$dir/customers.csv"
"$server_bin" import customers "$dir/customers.csv" --config "$dir/server.json" >"$dir/import.log" 2>&1
printf 'correct horse battery staple\n' >"$dir/admin.pw"
"$server_bin" user add --config "$dir/server.json" --name office --role back_office --password-file "$dir/admin.pw" >/dev/null 2>&1
code_a=$("$server_bin" enroll-code create --config "$dir/server.json" --site lc-site-1 2>/dev/null)
code_b=$("$server_bin" enroll-code create --config "$dir/server.json" --site lc-site-1 2>/dev/null)

# The server writes the CRL as it starts: the broker, which needs the file, starts after it.
"$server_bin" run --config "$dir/server.json" >"$dir/server.log" 2>&1 &
server_pid=$!
check "server listens over HTTPS" wait_for 30 grep -q "http listening on" "$dir/server.log"
http_port=$(sed -n 's/.*http listening on [^:]*:\([0-9]*\).*/\1/p' "$dir/server.log" | head -1)
check "the server wrote the CRL at start" wait_for 10 test -s "$dir/broker.crl"
check "the CRL is signed by the issuing CA" openssl crl -in "$dir/broker.crl" -CAfile "$pki/broker-trust.crt" -noout
check "the CRL carries the root's CRL too" bash -c "[[ \$(grep -c 'BEGIN X509 CRL' '$dir/broker.crl') == 2 ]]"
check "the CRL has a next update" bash -c "openssl crl -in '$dir/broker.crl' -noout -nextupdate | grep -q nextUpdate="
check "broker starts with the crlfile" start_broker
touch "$dir/broker-started"
check "server connected to the broker" wait_for 30 grep -q "connected to ssl://" "$dir/server.log"

enroll() { "$edge_bin" enroll --server "https://127.0.0.1:$http_port" --ca "$dir/https.crt" "$@"; }
publish() {  # gateway folder, sequence number
  local gw=$1 seq=$2 now_ms=$(( $(date +%s) * 1000 ))
  mosquitto_pub -h 127.0.0.1 -p "$mqtt_port" --cafile "$gw/pki/ca.crt" --cert "$gw/pki/site.crt" --key "$gw/pki/site.key" \
    -q 1 -t pvfleet/v1/sites/lc-site-1/telemetry \
    -m "{\"v\":1,\"kind\":\"telemetry\",\"site_id\":\"lc-site-1\",\"seq\":$seq,\"sent_at\":$now_ms,\"devices\":[{\"device_id\":\"inv1\",\"t0\":$((now_ms + seq)),\"dt\":[0],\"points\":{\"ac_power_w\":[$seq]}}]}" 2>/dev/null
}
rows() { sqlite3 "$dir/server.db" "SELECT COUNT(*) FROM telemetry_raw WHERE site_id = 'lc-site-1'"; }
serial_of() { openssl x509 -in "$1" -noout -serial | cut -d= -f2; }
in_crl() { openssl crl -in "$dir/broker.crl" -noout -text | grep -q "Serial Number: $1"; }

# Gateway A enrolls and syncs.
gwa=$dir/gw-a gwb=$dir/gw-b
check "gateway A enrolls" bash -c "$(declare -f enroll); edge_bin='$edge_bin' http_port=$http_port dir='$dir' enroll --code '$code_a' --config '$gwa/site.json' >'$dir/enroll-a.log' 2>&1"
serial_a=$(serial_of "$gwa/pki/site.crt")
check "gateway A records where it enrolled" grep -q "https://127.0.0.1:$http_port" "$gwa/pki/server.json"
check "gateway A syncs" publish "$gwa" 1
check "A's telemetry ingested" wait_for 20 bash -c "[[ \$($(declare -f rows); dir='$dir' rows) -ge 1 ]]"

# Replacement: new hardware enrolls for the same site with a new code; A's certificate is revoked with it.
reloads_before=$(wc -l <"$dir/reloads" 2>/dev/null || echo 0)
check "gateway B (replacement) enrolls" bash -c "$(declare -f enroll); edge_bin='$edge_bin' http_port=$http_port dir='$dir' enroll --code '$code_b' --config '$gwb/site.json' >'$dir/enroll-b.log' 2>&1"
check "A's certificate revoked as replaced" bash -c "[[ \$(sqlite3 '$dir/server.db' \"SELECT revocation_reason FROM site_certificates WHERE serial = '$serial_a'\") == replaced ]]"
check "the CRL lists A's serial" wait_for 10 in_crl "$serial_a"
check "the reload command ran" wait_for 10 bash -c "[[ \$(wc -l <'$dir/reloads') -gt $reloads_before ]]"
check "broker back after the reload" wait_for 20 bash -c "echo >/dev/tcp/127.0.0.1/$mqtt_port" 2>/dev/null
check "the broker refuses A's reconnect" bash -c "$(declare -f publish); dir='$dir' mqtt_port=$mqtt_port; ! publish '$gwa' 2"
check "the server's own connection survives the CRL (root CRL appended)" wait_for 30 bash -c \
  "[[ \$(grep -c '\[ingest\] connected to ssl://' '$dir/server.log') -ge 2 ]]"
# The new hardware numbers its messages from 1 again: the site's sequence started over with the replacement.
check "B syncs (its first message, seq 1)" wait_for 20 publish "$gwb" 1
check "the site keeps A's telemetry and gets B's" wait_for 30 bash -c "[[ \$($(declare -f rows); dir='$dir' rows) -ge 2 ]]"

# Renewal over HTTPS with the current key.
serial_b=$(serial_of "$gwb/pki/site.crt")
check "not due right after enrollment" bash -c "'$edge_bin' renew --config '$gwb/site.json' >'$dir/renew0.log' 2>&1; [[ \$? == 3 ]]"
check "B renews" bash -c "'$edge_bin' renew --config '$gwb/site.json' --force >'$dir/renew.log' 2>&1"
serial_b2=$(serial_of "$gwb/pki/site.crt")
check "a new certificate, the old one kept as .prev" bash -c "[[ '$serial_b2' != '$serial_b' && \$(openssl x509 -in '$gwb/pki/site.crt.prev' -noout -serial) == serial=$serial_b ]]"
check "renewed_from recorded" bash -c "[[ \$(sqlite3 '$dir/server.db' \"SELECT renewed_from FROM site_certificates WHERE serial = '$serial_b2'\") == '$serial_b' ]]"
check "a new key, mode 0600, matching the certificate" bash -c "[[ \$(stat -c %a '$gwb/pki/site.key') == 600 && \
  \$(openssl x509 -in '$gwb/pki/site.crt' -noout -pubkey) == \$(openssl pkey -in '$gwb/pki/site.key' -pubout) && \
  \$(openssl pkey -in '$gwb/pki/site.key' -pubout) != \$(openssl pkey -in '$gwb/pki/site.key.prev' -pubout) ]]"
check "the CN is still the site" bash -c "openssl x509 -in '$gwb/pki/site.crt' -noout -subject | grep -q 'CN *= *lc-site-1'"
check "B syncs with the renewed certificate" publish "$gwb" 4

# The back office revokes B (stolen): both of its certificates go on the CRL.
curl -sS --cacert "$dir/https.crt" -c "$dir/cookies" -H 'content-type: application/json' \
  -d '{"user":"office","password":"correct horse battery staple"}' "https://127.0.0.1:$http_port/api/login" >/dev/null
revoke=$(curl -sS --cacert "$dir/https.crt" -b "$dir/cookies" -H 'content-type: application/json' -w '\n%{http_code}' \
  -d '{"reason":"stolen","note":"gateway gone from the roof"}' \
  "https://127.0.0.1:$http_port/api/sites/lc-site-1/certificates/$serial_b2/revoke")
check "revoke answered 200" bash -c "[[ '$(tail -1 <<<"$revoke")' == 200 ]]"
check "the CRL lists both of B's serials" wait_for 10 bash -c "$(declare -f in_crl); dir='$dir'; in_crl '$serial_b2' && in_crl '$serial_b'"
# What mosquitto 2.0 does on SIGHUP with a changed crlfile, observed on a broker that had read the CRL before it.
sighup_pid=$(cat "$dir/mosquitto.pid" 2>/dev/null)
check "broker back after the reload" wait_for 20 bash -c "echo >/dev/tcp/127.0.0.1/$mqtt_port" 2>/dev/null
check "the broker refuses B's reconnect (renewed certificate)" bash -c "$(declare -f publish); dir='$dir' mqtt_port=$mqtt_port; ! publish '$gwb' 5"
cp "$gwb/pki/site.crt.prev" "$dir/b-old.crt"; mkdir -p "$dir/gw-b-old/pki"; cp "$gwb/pki/ca.crt" "$dir/gw-b-old/pki/"
cp "$gwb/pki/site.crt.prev" "$dir/gw-b-old/pki/site.crt"; cp "$gwb/pki/site.key.prev" "$dir/gw-b-old/pki/site.key"
check "the broker refuses B's earlier certificate too" bash -c "$(declare -f publish); dir='$dir' mqtt_port=$mqtt_port; ! publish '$dir/gw-b-old' 6"
check "a revoked certificate cannot renew" bash -c "out=\$('$edge_bin' renew --config '$gwb/site.json' --force 2>&1); [[ \$? == 1 && \$out == *revoked_certificate* ]]"
check "revocations audited" bash -c "[[ \$(sqlite3 '$dir/server.db' \"SELECT COUNT(*) FROM audit_log WHERE action = 'revoke' AND entity = 'site_certificate'\") -ge 3 ]]"
check "the refused renewal audited" bash -c "[[ \$(sqlite3 '$dir/server.db' \"SELECT COUNT(*) FROM audit_log WHERE action = 'renew refused' AND after_json LIKE '%revoked_certificate%'\") == 1 ]]"

# Observation: SIGHUP alone (no restart) with a new CRL.
code_c=$("$server_bin" enroll-code create --config "$dir/server.json" --site lc-site-1 2>/dev/null)
gwc=$dir/gw-c
enroll --code "$code_c" --config "$gwc/site.json" >"$dir/enroll-c.log" 2>&1
wait_for 20 bash -c "echo >/dev/tcp/127.0.0.1/$mqtt_port" 2>/dev/null
serial_c=$(serial_of "$gwc/pki/site.crt")
sed -i 's/^\[\[ -f .*broker-started.*$/exit 0/' "$dir/reload-broker"  # from here on the reload does nothing
if wait_for 20 publish "$gwc" 7; then
  curl -sS --cacert "$dir/https.crt" -b "$dir/cookies" -H 'content-type: application/json' -o /dev/null \
    -d '{"reason":"decommissioned"}' "https://127.0.0.1:$http_port/api/sites/lc-site-1/certificates/$serial_c/revoke"
  wait_for 10 in_crl "$serial_c"
  # Control: the running broker still has the CRL it read at start, so C is still accepted.
  publish "$gwc" 8 && echo "observed: before SIGHUP the broker accepts the newly revoked certificate"
  kill -HUP "$(cat "$dir/mosquitto.pid")"; sleep 1
  if publish "$gwc" 9; then echo "observed: mosquitto $(mosquitto -h 2>&1 | sed -n 's/mosquitto version //p' | head -1) keeps the old CRL after SIGHUP (a restart is needed)"
  else echo "observed: mosquitto reloaded the CRL on SIGHUP"; fi
fi

echo "$passed passed, $failed failed"
if [[ $failed -gt 0 ]]; then
  echo "--- server log" >&2; tail -30 "$dir/server.log" >&2
  echo "--- broker log" >&2; tail -20 "$dir/broker.log" >&2
  for f in enroll-a enroll-b renew0 renew; do echo "--- $f" >&2; cat "$dir/$f.log" >&2; done
  exit 1
fi
