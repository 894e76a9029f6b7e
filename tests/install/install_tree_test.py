#!/usr/bin/env python3
"""The install tree finds its data: `cmake --install BUILD` into a temporary DESTDIR/prefix, then the installed
pvfleet-sim serves a shipped site by name with the installed register maps, the installed pvfleet-edge probes it
with them, and the installed pvfleet-server loads the installed web app. Every PVFLEET_* variable is cleared and
the programs run from the temporary folder, so only the executable-relative lookup (../share/pvfleet) can find
the data (a system-wide /usr/share/pvfleet would be named in the logs and fail the path checks)."""
import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def fail(msg):
    print(f"install_tree: FAIL: {msg}")
    sys.exit(1)


class Child:
    """A program with its stdout and stderr lines collected by threads."""

    def __init__(self, argv, env, cwd):
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
        self.lines = queue.Queue()
        self.seen = []
        for stream in (self.proc.stdout, self.proc.stderr):
            threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream):
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text, timeout=30.0):
        deadline = time.monotonic() + timeout
        for line in self.seen:
            if text in line:
                return line
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        fail(f"'{text}' not seen; output was:\n  " + "\n  ".join(self.seen))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def installed(root, prefix, rel_or_abs):
    """A path of the install: relative ones under the prefix, system ones (a /usr build) under DESTDIR."""
    for base in (root / prefix.relative_to("/"), root):
        p = base / rel_or_abs
        if p.exists():
            return p
    fail(f"not installed: {rel_or_abs}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--cmake", default="cmake")
    ap.add_argument("--server", default="1")
    args = ap.parse_args()
    with_server = args.server not in ("0", "OFF", "FALSE", "")

    with tempfile.TemporaryDirectory(prefix="pvfleet-install-") as tmp:
        tmp = Path(tmp)
        root = tmp / "root"
        prefix = Path("/opt/pvfleet-test")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PVFLEET_")}
        # DESTDIR keeps absolute destinations (/etc, /lib/systemd of a /usr build) inside the temporary folder.
        r = subprocess.run([args.cmake, "--install", args.build_dir, "--prefix", str(prefix)],
                           env={**env, "DESTDIR": str(root)}, capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"cmake --install: {r.stdout}{r.stderr}")
        tree = root / prefix.relative_to("/")
        share = tree / "share/pvfleet"

        # The layout.
        maps = sorted(p.name for p in (share / "devices").glob("*.json"))
        if len(maps) < 5:
            fail(f"register maps installed: {maps}")
        if not list((share / "devices/sunspec").glob("model_*.json")):
            fail("no SunSpec model maps installed")
        for rel in ("bin/pvfleet-edge", "bin/pvfleet-sim", "share/pvfleet/sim/household-sunspec.json",
                    "share/pvfleet/schemas/site.schema.json", "share/doc/pvfleet-edge/copyright"):
            installed(root, prefix, rel)
        installed(root, prefix, "lib/systemd/system/pvfleet-edge.service")
        installed(root, prefix, "lib/systemd/system/pvfleet-edge-update.service")
        installed(root, prefix, "lib/systemd/system/pvfleet-edge-update.path")
        installed(root, prefix, "etc/pvfleet/site.json.example")
        print(f"install_tree: {len(maps)} register maps, units and configs installed under {root}")

        run_dir = tmp / "run"
        run_dir.mkdir()
        r = subprocess.run([str(tree / "bin/pvfleet-edge"), "probe", "--help"], env=env, cwd=run_dir,
                           capture_output=True, text=True)
        if r.returncode != 0 or "--maps" not in r.stdout + r.stderr:
            fail(f"pvfleet-edge probe --help: exit {r.returncode}: {r.stdout}{r.stderr}")

        # The simulator: a shipped site by name, the installed maps.
        sim = Child([str(tree / "bin/pvfleet-sim"), "--site", "household-sunspec", "--listen", "127.0.0.1:0",
                     "--log-level", "info"], env, run_dir)
        try:
            listening = sim.wait_for("listening tcp ")
            line = sim.wait_for("register maps from ")
            if f"register maps from {share / 'devices'}" not in line:
                fail(f"the simulator's maps are not the installed ones: {line}")
            port = listening.rsplit(":", 1)[1].strip()
            # The agent's probe: identifies the simulated SunSpec inverter with the installed maps.
            r = subprocess.run([str(tree / "bin/pvfleet-edge"), "probe", "--tcp", f"127.0.0.1:{port}", "--unit", "1",
                                "--json"], env=env, cwd=run_dir, capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                fail(f"pvfleet-edge probe: exit {r.returncode}: {r.stdout}{r.stderr}")
            ident = json.loads(r.stdout)
            print(f"install_tree: probe identified {json.dumps(ident.get('identity', ident))[:160]}")
        finally:
            sim.stop()
        r = subprocess.run([str(tree / "bin/pvfleet-edge"), "probe", "--tcp", "127.0.0.1:1", "--profile", "nope"],
                           env=env, cwd=run_dir, capture_output=True, text=True, timeout=60)
        if "goodwe-et" not in r.stderr:
            fail(f"pvfleet-edge probe --profile nope did not list the installed maps: {r.stderr}")

        if with_server:
            installed(root, prefix, "lib/systemd/system/pvfleet-server.service")
            installed(root, prefix, "etc/pvfleet/server.json.example")
            if (share / "web/dev").exists():
                fail("the web app's development helpers (web/dev) were installed")
            config = run_dir / "server.json"
            config.write_text(json.dumps({"database": {"kind": "sqlite", "path": str(run_dir / "server.db")},
                                          "http": {"listen": "127.0.0.1", "port": 0}}))
            server = Child([str(tree / "bin/pvfleet-server"), "run", "--config", str(config)], env, run_dir)
            try:
                line = server.wait_for("web app: ")
                if f"from {share / 'web'}" not in line:
                    fail(f"the server's web app is not the installed one: {line}")
                print(f"install_tree: server: {line.split('web app: ', 1)[1]}")
            finally:
                server.stop()
    print("install_tree: 1 passed, 0 failed")


if __name__ == "__main__":
    main()
