"""What the integration tests of the daemon's clients share (mqtt_test.py; web_support.py
for web_test.py and web_http_test.py): the real emotiond on a socket of its own, a
program's process with its stderr kept in a file, a free TCP port, a Unix socket to play
the daemon, and waiting for a condition. Standard library only.

EMOTIOND_EMULATOR ("qemu-aarch64 -cpu max") runs the programs through that command (a
cross build); EMOTIOND_TIME_SCALE=N stretches waits by N.
"""
import json, os, shlex, signal, socket, subprocess, time

EMU = shlex.split(os.environ.get("EMOTIOND_EMULATOR", ""))
SLOW = float(os.environ.get("EMOTIOND_TIME_SCALE", "1"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, timeout, what):
    """cond's first true value within timeout seconds (scaled by SLOW), or a failure."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError("timed out after %g s waiting for %s" % (timeout * SLOW, what))


def unix_listener(folder, name):
    """A Unix socket listening at folder/name, as a daemon's would: (socket, path)."""
    path = os.path.join(folder, name)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(8)
    return s, path


def accept_and_close(srv, seconds):
    """A daemon that fails at once: accepts each connection on srv and closes it, for
    seconds. The monotonic times of the accepts."""
    times, deadline = [], time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return times
        srv.settimeout(left)
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            return times
        times.append(time.monotonic())
        conn.close()


class Proc:
    """A program under test: self.proc (Popen), its stderr in the file self.log."""

    def stderr(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self, timeout=10):
        """SIGTERM, then its exit status."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout * SLOW)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


class Daemon(Proc):
    """emotiond on source with model, a socket of its own in folder (or sock), more
    arguments after; config: the text of a config file (e.g. "[preview]\\nenabled =
    true\\n"). Returns once the socket exists; fails, with its stderr, if it exits first."""

    def __init__(self, emotiond, model, folder, source, *args, sock=None, config=None):
        self.sock = sock or os.path.join(folder, "d%d.sock" % time.monotonic_ns())
        self.log = open(os.path.join(folder, "daemon-%d.log" % time.monotonic_ns()), "w")
        cmd = [*EMU, emotiond, "--socket", self.sock, "--model", model, "--source", source,
               *args]
        if config:
            conf = os.path.join(folder, "emotiond-%d.conf" % time.monotonic_ns())
            with open(conf, "w") as f:
                f.write(config)
            cmd += ["-c", conf]
        self.proc = subprocess.Popen(cmd, stderr=self.log)
        wait_for(lambda: os.path.exists(self.sock) or self.proc.poll() is not None, 20,
                 "emotiond's socket")
        if self.proc.poll() is not None:
            raise AssertionError("emotiond did not start: " + self.stderr())

    def hello(self):
        """The hello a new client gets."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10 * SLOW)
        s.connect(self.sock)
        line = s.makefile("rb").readline()
        s.close()
        return json.loads(line)
