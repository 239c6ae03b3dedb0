"""What emotiond-web's integration tests share (web_test.py, the browser; web_http_test.py,
bad HTTP): the real emotiond on a clip of the sample photo, emotiond-web on 127.0.0.1 and
a free port, HTTP and event-stream clients, the RSS of a process; the daemon and the
processes as the mqtt test has them (tests/support/daemon_proc.py). Standard library, plus
Debian's python3-opencv where a clip or a JPEG is needed.

EMOTIOND_EMULATOR ("qemu-aarch64 -cpu max") runs both programs through that command (a
cross build); EMOTIOND_TIME_SCALE=N stretches waits and slows the pace by N.
"""
import http.client, json, os, shutil, socket, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import daemon_proc
from daemon_proc import EMU, SLOW, Proc, accept_and_close, free_port, wait_for  # noqa: F401

TMP = tempfile.mkdtemp(prefix="emotiond-web-test-")


def setup(emotiond, web, src):
    """Paths of the two programs and the source tree; call once from the script."""
    global EMOTIOND, WEB, SRC, MODEL, PHOTO, PAGE
    EMOTIOND, WEB, SRC = emotiond, web, src
    MODEL = os.path.join(SRC, "tests/fixtures/nano-b-quick.enn")
    PHOTO = os.path.join(SRC, "samples/astronaut.pgm")
    PAGE = os.path.join(SRC, "clients/web/page")


def board(name):
    """A fixture tree for --system-root: xavier-nx-l4t32 (power mode and watts), bare."""
    return os.path.join(SRC, "tests/fixtures/boards", name)


def clip(frames=60):
    """A Motion-JPEG clip of the sample photo (one face), as a camera would send it."""
    path = os.path.join(TMP, "astronaut-%d.mjpeg" % frames)
    if not os.path.exists(path):
        import cv2
        ok, jpg = cv2.imencode(".jpg", cv2.imread(PHOTO), [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok
        with open(path, "wb") as f:
            f.write(jpg.tobytes() * frames)
    return path


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class Daemon(daemon_proc.Daemon):
    """emotiond on the clip (paced at fps) with a socket of its own; config: the text of a
    config file (e.g. "[preview]\\nenabled = true\\n")."""

    def __init__(self, sock=None, fps=15, config=None, system_root=None, source=None):
        args = ["--fps", "%g" % (fps / SLOW)]
        if system_root:
            args += ["--system-root", system_root]
        super().__init__(EMOTIOND, MODEL, TMP, source or "file:" + clip(), *args, sock=sock,
                         config=config)


class Web(Proc):
    """emotiond-web on 127.0.0.1 and a free port, serving the source tree's page."""

    def __init__(self, sock, *args, config=None, env=None, wait=True):
        self.port = free_port()
        self.log = open(os.path.join(TMP, "web-%d.log" % time.monotonic_ns()), "w")
        cmd = [*EMU, WEB, "--socket", sock, "--port", str(self.port), "--web-root", PAGE]
        if config:
            conf = os.path.join(TMP, "web-%d.conf" % time.monotonic_ns())
            with open(conf, "w") as f:
                f.write(config)
            cmd[len(EMU) + 1:len(EMU) + 1] = ["-c", conf]
        self.proc = subprocess.Popen(cmd + list(args), stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        self.url = "http://127.0.0.1:%d/" % self.port
        if wait:
            wait_for(self.listening, 20, "emotiond-web on port %d" % self.port)

    def listening(self):
        if self.proc.poll() is not None:
            raise AssertionError("emotiond-web exited %d: %s" % (self.proc.returncode,
                                                                 self.stderr()))
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def get(self, path, headers=None, method="GET", body=None):
        """(status, headers dict with lower-case names, body bytes)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10 * SLOW)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def serves(self):
        """Whether the page is served now (a refused connection is a no)."""
        try:
            return self.get("/")[0] == 200
        except OSError:
            return False

    def health(self):
        return json.loads(self.get("/healthz")[2])

    def rss_kb(self):
        return rss_kb(self.proc.pid)


class Events:
    """An /events stream read as a browser would: each data line's JSON, in order."""

    def __init__(self, web, timeout=10):
        self.c = http.client.HTTPConnection("127.0.0.1", web.port, timeout=timeout * SLOW)
        self.c.request("GET", "/events")
        self.r = self.c.getresponse()
        self.status = self.r.status
        self.headers = {k.lower(): v for k, v in self.r.getheaders()}
        self.fields = []          # non-data lines (retry: ...)

    def next(self, type_=None, limit=5000):
        """The next message (of type_, skipping others); None when the stream ends."""
        for _ in range(limit):
            data = []
            while True:
                line = self.r.readline()
                if not line:
                    return None
                line = line.decode().rstrip("\n")
                if not line:
                    break
                if line.startswith("data: "):
                    data.append(line[6:])
                else:
                    self.fields.append(line)
            if not data:
                continue
            m = json.loads("\n".join(data))
            if type_ is None or m.get("type") == type_:
                return m
        raise AssertionError("no %s message in %d" % (type_, limit))

    def next_where(self, type_, cond, limit=50):
        """The next message of type_ for which cond holds, skipping up to `limit` of that
        type for which it does not: a state broadcast before a change reaches the stream
        before the one after it."""
        for _ in range(limit):
            m = self.next(type_)
            if m is None or cond(m):
                return m
        raise AssertionError("no %s message as wanted in %d" % (type_, limit))

    def close(self):
        self.c.close()


def unix_listener(name):
    """A Unix socket listening at TMP/name, as a daemon's would: (socket, path)."""
    return daemon_proc.unix_listener(TMP, name)


def cleanup():
    shutil.rmtree(TMP, ignore_errors=True)

