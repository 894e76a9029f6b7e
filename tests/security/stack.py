"""The components under attack, on loopback with free ports and a temporary folder: mosquitto, pvfleet-server
(SQLite, its personal-data key in its data folder), one pvfleet-sim and one pvfleet-edge with its LAN page.
Every child gets SIGKILL should the suite itself be killed (ctest timeout)."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from pvfleet_stack import LOCAL_UI_LISTENING, SERVER_LISTENING, Processes, StackError  # noqa: E402,F401

# The role of every seeded user; the suite logs each one in.
USERS = {"sec-admin": "admin", "sec-office": "back_office", "sec-tech": "technician",
         "sec-tech2": "technician", "sec-manager": "manager", "sec-victim": "technician"}
GATEWAY_PASSWORD = "gateway-security-pw"
GATEWAY_SITE = "sec-gw"
# The server runs with a small descriptor limit so that a connection flood reaches EMFILE (accept back-off).
SERVER_NOFILE = 256


def password_of(user):
    return "pw-%s-0123456789" % user


def child_env(marker):
    env = dict(os.environ)
    # ASan keeps freed memory in a quarantine (256 MB by default): without a small one, memory measurements
    # would count what the sanitizer holds back rather than what the server keeps.
    env["ASAN_OPTIONS"] = ":".join(x for x in (env.get("ASAN_OPTIONS", ""), "quarantine_size_mb=8") if x)
    env["PVFLEET_SECURITY_MARKER"] = marker  # must never come back in a response (/proc/self/environ)
    return env


class Stack(Processes):
    def __init__(self, bin_dir, source_dir, work, marker):
        super().__init__(bin_dir, work, env=child_env(marker))
        self.src = source_dir
        self.marker = marker
        self.data = os.path.join(work, "data")
        os.makedirs(self.data)
        self.mqtt_port = None
        self.server_port = None
        self.gateway_port = None
        self.server_config = os.path.join(work, "server.json")

    @property
    def server_bin(self):
        return self.binary("bin/pvfleet-server")

    # ---- components ----

    def start_broker(self):
        self.mqtt_port = self.start_mosquitto()

    def release_keys_dir(self):
        """A folder with one trusted release key (Ed25519 public key), so the update routes are configured."""
        keys = os.path.join(self.work, "release-keys")
        if not os.path.isdir(keys):
            os.makedirs(keys)
            private = os.path.join(self.work, "release-signing.key")
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", private], check=True,
                           capture_output=True, timeout=30)
            subprocess.run(["openssl", "pkey", "-in", private, "-pubout", "-out", os.path.join(keys, "security.pem")],
                           check=True, capture_output=True, timeout=30)
        return keys

    def write_server_config(self, path, **extra):
        cfg = {"database": {"kind": "sqlite", "path": os.path.join(self.data, "server.db")},
               "mqtt": {"uri": "tcp://127.0.0.1:%d" % self.mqtt_port, "client_id": "pvfleet-server-security"},
               "http": {"listen": "127.0.0.1", "port": 0, "trusted_proxies": ["127.0.0.1"]},
               "ingest": {"gap_grace_s": 1, "gap_retry_s": 2, "gap_max_attempts": 3},
               "releases": {"dir": os.path.join(self.data, "releases"), "keys_dir": self.release_keys_dir(),
                            "public_url": "https://updates.example.test"},
               "diagnostics": {"dir": os.path.join(self.data, "diagnostics"),
                               "public_url": "https://updates.example.test"},
               "web_root": os.path.join(self.src, "server", "web")}
        cfg.update(extra)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)

    def seed_users(self):
        self.write_server_config(self.server_config)
        # Cheap hashes for the seeded users (the server itself keeps the full cost for unknown names).
        env = dict(child_env(self.marker), PVFLEET_KDF_ITERATIONS="1000")
        for name, role in USERS.items():
            r = subprocess.run([self.server_bin, "user", "add", "--config", self.server_config, "--name", name,
                                "--role", role], input=password_of(name) + "\n", capture_output=True, text=True,
                               cwd=self.work, timeout=60, env=env)
            if r.returncode != 0:
                raise StackError("pvfleet-server user add %s: %s%s" % (name, r.stdout, r.stderr))

    def start_server(self, name="server"):
        if name in self.procs:
            self.stop(name)
            os.rename(self.logs[name], self.logs[name] + ".%d" % time.monotonic_ns())
        _, self.server_port = self.start_and_wait_listening(
            name, [self.server_bin, "run", "--config", self.server_config], SERVER_LISTENING, nofile=SERVER_NOFILE)
        return self.server_port

    def server_pid(self):
        return self.procs["server"].pid

    def start_gateway(self):
        maps = os.path.join(self.src, "firmware-config", "devices")
        sim_cfg = {"name": GATEWAY_SITE, "latitude_deg": 45.0, "longitude_deg": 7.0, "elevation_m": 200,
                   "time_zone": "UTC", "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
                   "devices": [{"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 5.0, "phases": 1,
                                "mppts": 1, "manufacturer": "pvfleet", "model": "SIM-5K", "serial": "SEC0001"}],
                   "arrays": [{"id": "a", "device": "inv1", "mppt": 1, "dc_kwp": 5.0, "tilt_deg": 30,
                               "azimuth_deg": 180}]}
        with open(os.path.join(self.work, "sim.json"), "w") as f:
            json.dump(sim_cfg, f)
        addr = self.start_sim("sim", ["--site", os.path.join(self.work, "sim.json"), "--listen", "127.0.0.1:0",
                                      "--maps", maps])
        password_hash = self.hash_password(GATEWAY_PASSWORD)
        edge_cfg = {"format": 1, "site_id": GATEWAY_SITE, "config_version": "sec-1", "latitude": 45.0,
                    "longitude": 7.0, "elevation_m": 200, "time_zone": "UTC",
                    "endpoints": [{"id": "lan", "tcp": addr,
                                   "timing": {"pause_after_connect_ms": 0, "timeout_max_ms": 1000, "retries": 1}}],
                    "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "auto", "ac_kw": 5.0}],
                    "arrays": [{"inverter": "inv1", "dc_kw": 5.0, "tilt": 30, "azimuth": 180}],
                    "poll": {"fast_s": 5, "slow_s": 30, "offline_max_s": 10},
                    "store": {"path": "edge.db"}, "sync": {"batch_interval_s": 10},
                    "mqtt": {"uri": "tcp://127.0.0.1:%d" % self.mqtt_port},
                    "maps_dir": maps,
                    "local_ui": {"listen": "127.0.0.1", "port": 0, "password_hash": password_hash}}
        with open(os.path.join(self.work, "edge.json"), "w") as f:
            json.dump(edge_cfg, f)
        _, self.gateway_port = self.start_and_wait_listening(
            "edge", [self.binary("bin/pvfleet-edge"), "run", "--config", "edge.json"], LOCAL_UI_LISTENING)
        return self.gateway_port


# ---- process measurements (Linux /proc) ----

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
