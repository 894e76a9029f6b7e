"""Child processes of the Python test suites (browser e2e, attack suite): mosquitto, pvfleet-server, pvfleet-sim
and pvfleet-edge on loopback with free ports, each logging to a file in a work folder. Startup is awaited on
events — a port accepting connections, a line in a component's log — never on fixed sleeps. Every child gets
SIGKILL should the suite itself be killed (ctest timeout). Python standard library only.

    procs = Processes(bin_dir, work)
    mqtt_port = procs.start_mosquitto()
    addr = procs.start_sim("sim", ["--site", "sim.json"])           # "127.0.0.1:port" of its Modbus listener
    host, port = procs.start_and_wait_listening("server", [server, "run", "--config", cfg],
                                                r"http listening on ([0-9.]+):(\\d+)")
    procs.stop_all()
"""

import ctypes
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import time


class StackError(Exception):
    """A component did not come up (or went away) as expected."""


def free_port():
    """A port that was free a moment ago on 127.0.0.1."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def child_setup(nofile=None):
    """preexec_fn for children: SIGKILL when this process dies (PR_SET_PDEATHSIG), optional open-file limit."""
    def setup():
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except Exception:
            pass
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return setup


def wait_until(predicate, timeout, step=0.05):
    """Polls predicate() until it is truthy (returns its value) or the timeout passes (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def port_accepts(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


class Processes:
    """The children of one suite, by name, with their log files in `work`."""

    def __init__(self, bin_dir, work, env=None, binary_grace_s=0):
        self.bin = bin_dir
        self.work = work
        self.env = env  # environment of every child (None: inherited)
        # How long a missing binary is waited for (another build may be re-linking it at this moment).
        self.binary_grace_s = binary_grace_s
        self.procs = {}  # name -> Popen, in start order
        self.logs = {}  # name -> log path

    def binary(self, rel):
        path = os.path.join(self.bin, rel)
        if not wait_until(lambda: os.access(path, os.X_OK), self.binary_grace_s, step=1):
            raise StackError("binary missing: %s (build pvfleet-server pvfleet-edge pvfleet-sim)" % path)
        return path

    def start(self, name, args, cwd=None, nofile=None):
        path = os.path.join(self.work, name + ".log")
        out = open(path, "ab")
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                cwd=cwd or self.work, preexec_fn=child_setup(nofile), env=self.env)
        out.close()
        self.procs[name] = proc
        self.logs[name] = path
        return proc

    def log_text(self, name):
        with open(self.logs[name], encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, name, pattern, timeout=30, after=0):
        """The first match of the regex in the component's log (from offset `after`); fails when it exits first."""
        rx = re.compile(pattern)
        proc = self.procs[name]
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text(name), after)
            if m:
                return m
            if proc.poll() is not None:
                raise StackError("%s exited with status %s before logging /%s/" % (name, proc.returncode, pattern))
            if time.monotonic() > deadline:
                raise StackError("%s did not log /%s/ within %s s" % (name, pattern, timeout))
            time.sleep(0.05)

    def wait_port(self, name, port, timeout=10):
        """Until the component accepts TCP connections on 127.0.0.1:port; fails when it exits first."""
        proc = self.procs[name]
        if not wait_until(lambda: port_accepts(port) or proc.poll() is not None, timeout) or proc.poll() is not None:
            raise StackError("%s does not accept connections on port %d" % (name, port))

    def check_alive(self):
        dead = ["%s (exit %s)" % (n, p.returncode) for n, p in self.procs.items() if p.poll() is not None]
        if dead:
            raise StackError("component(s) exited: " + ", ".join(dead))

    def stop(self, name, timeout=10):
        p = self.procs.get(name)
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop_all(self, timeout=5):
        """SIGTERM to every child (last started first), then SIGKILL to those still running after `timeout`."""
        for p in reversed(list(self.procs.values())):
            if p.poll() is None:
                try:
                    p.terminate()
                except OSError:
                    pass
        deadline = time.monotonic() + timeout
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def tail(self, lines=15, width=400):
        out = []
        for name, path in self.logs.items():
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read().splitlines()
            except OSError:
                continue
            out.append("---- %s (%s) ----" % (name, path))
            out.extend(line[:width] for line in text[-lines:])
        return "\n".join(out)

    # ---- components ----

    def start_mosquitto(self, extra_conf="", name="mosquitto"):
        """mosquitto on a free loopback port (anonymous, no persistence); returns the port once it accepts."""
        port = free_port()
        conf = os.path.join(self.work, name + ".conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n%s" % (port, extra_conf))
            if os.getuid() == 0:  # mosquitto refuses to drop to a missing "mosquitto" user otherwise
                f.write("user root\n")
        self.start(name, [shutil.which("mosquitto"), "-c", conf])
        self.wait_port(name, port)
        return port

    def start_and_wait_listening(self, name, args, pattern, timeout=60, nofile=None, cwd=None):
        """Starts a component and waits for the log line announcing its listener: (host, port) of groups 1, 2."""
        self.start(name, args, cwd=cwd, nofile=nofile)
        m = self.wait_log(name, pattern, timeout=timeout)
        return m.group(1), int(m.group(2))

    def start_sim(self, name, args, timeout=30):
        """pvfleet-sim with these arguments (listening on port 0); returns the "host:port" it listens on."""
        self.start(name, [self.binary("bin/pvfleet-sim"), *args])
        return self.wait_log(name, r"(?m)^listening tcp (\S+)", timeout=timeout).group(1)

    def hash_password(self, password):
        """The local page's password hash from `pvfleet-edge hash-password`."""
        r = subprocess.run([self.binary("bin/pvfleet-edge"), "hash-password"], input=password + "\n",
                           capture_output=True, text=True, timeout=60, env=self.env)
        if r.returncode != 0 or not r.stdout.startswith("pbkdf2-sha256$"):
            raise StackError("pvfleet-edge hash-password: %s%s" % (r.stdout, r.stderr))
        return r.stdout.strip()


SERVER_LISTENING = r"http listening on ([0-9.]+):(\d+)"
LOCAL_UI_LISTENING = r"local ui listening on ([0-9.]+):(\d+)"
