#!/usr/bin/python3
"""The real emotiond and emotionctl over real sockets (issue #7 and #8's done-when list;
issue #23's preview topic).

    daemon_test.py EMOTIOND EMOTIONCTL SOURCE_DIR SHARED_DATA

Standard library plus Debian's python3-opencv (to write the MJPEG clips). Tests that need
../shared/data say so and are skipped (unittest prints them as skipped, with the reason).
EMOTIOND_WITH_OPENCV=0 in the environment: the binaries were built without OpenCV (only
the yunet detector; the others must be refused clearly).
EMOTIOND_EMULATOR="qemu-aarch64 -cpu max" runs both binaries through that command (a cross
build; no binfmt_misc needed), and EMOTIOND_TIME_SCALE=N stretches the waits and deadlines
and divides the frame rates a test expects by N (emulated code is that much slower; 1, the
default, is the native test). Test names after the four arguments run only those.
"""
import base64, json, math, os, shlex, shutil, signal, socket, subprocess, sys, tempfile, time
import unittest

EMU = shlex.split(os.environ.get("EMOTIOND_EMULATOR", ""))
SLOW = float(os.environ.get("EMOTIOND_TIME_SCALE", "1"))
EMOTIOND, EMOTIONCTL = EMU + [sys.argv[1]], EMU + [sys.argv[2]]
SRC, SHARED = sys.argv[3:5]
del sys.argv[1:5]
MODEL = os.path.join(SRC, "tests/fixtures/nano-b-quick.enn")
OTHER_MODEL = os.path.join(SRC, "tests/fixtures/random-recon.enn")
FACES = os.path.join(SHARED, "faces")
YUNET_ONNX = os.path.join(SHARED, "models/face_detection_yunet_2023mar.onnx")
WITH_OPENCV = os.environ.get("EMOTIOND_WITH_OPENCV", "1") == "1"
XAVIER = os.path.join(SRC, "tests/fixtures/boards/xavier-nx-l4t32")

import warnings  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from daemon_proc import Proc, wait_for  # noqa: E402
warnings.simplefilter("ignore", ResourceWarning)
import cv2  # noqa: E402  (after argv handling, so a missing module reads clearly)

TMP = tempfile.mkdtemp(prefix="emotiond-test-")
NATIVE_ONLY = {}


def native_only(why):
    """A test that measures what emulation cannot give (speed): skipped under it, saying why."""
    def mark(test):
        NATIVE_ONLY[test.__qualname__] = why
        return unittest.skipIf(EMU, "not under %s: %s" % (" ".join(EMU), why))(test)
    return mark


def write_clip(path, images, repeat, size=(640, 480)):
    """Concatenated JPEG frames; each image pasted top-left on a black canvas (boxes keep)."""
    with open(path, "wb") as out:
        for img in images:
            canvas = cv2.resize(img, size) * 0 if img.shape[:2] != size[::-1] else None
            if canvas is not None:
                h, w = min(img.shape[0], size[1]), min(img.shape[1], size[0])
                canvas[:h, :w] = img[:h, :w]
                img = canvas
            ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            out.write(jpg.tobytes() * 1 if repeat == 1 else b"".join([jpg.tobytes()] * repeat))


ASTRONAUT_CLIP = os.path.join(TMP, "astronaut.mjpeg")
# 40 frames: 1.3 s at 30 frames/s. Emulated, the pace is SLOW times slower: as many times
# the frames, so that a test still sees no restart of the clip (seq back to 0)
write_clip(ASTRONAUT_CLIP, [cv2.imread(os.path.join(SRC, "samples/astronaut.pgm"))],
           40 * max(1, math.ceil(SLOW)))


def telemetry_over(client, seconds):
    """The telemetry messages of at least `seconds`, whole windows: the last one, and the
    rates over all of them (capture and classify frames/s, faces/s, and their seconds).
    Emulated, the pipeline runs about 1 frame/s, so in one 1 s window a frame more or
    less is +-100 %."""
    total = {"seconds": 0, "capture": 0, "classify": 0, "faces": 0}
    while total["seconds"] < seconds:
        t = client.next("telemetry")
        w = t["interval_s"]
        total["seconds"] += w
        total["capture"] += t["stages"]["capture"]["fps"] * w
        total["classify"] += t["stages"]["classify"]["fps"] * w
        total["faces"] += t["faces_per_s"] * w
    return t, {k: v if k == "seconds" else v / total["seconds"] for k, v in total.items()}


def read_text(path):
    with open(path) as f:
        return f.read()


def wait_log(daemon, text):
    """Until the daemon's log says `text` (5 s, scaled)."""
    wait_for(lambda: text in daemon.stderr(), 5, "the log to say %r" % text)


class Daemon(Proc):
    """emotiond on a clip (by default); its stderr in self.log. Leaving a `with` kills it
    if still running and closes the log (Proc)."""

    def __init__(self, *args, config=None, env=None, source=None, model=MODEL):
        self.sock = os.path.join(TMP, "d%d.sock" % time.monotonic_ns())
        self.log = open(os.path.join(TMP, "daemon.log"), "w+")
        cmd = [*EMOTIOND, "--socket", self.sock, "--source", source or "file:" + ASTRONAUT_CLIP]
        cmd += ["--model", model] if model else []
        args = list(args)
        if "--fps" in args:             # paced as much slower as the code runs
            i = args.index("--fps") + 1
            args[i] = "%g" % (float(args[i]) / SLOW)
        if config:
            self.conf = os.path.join(TMP, "emotiond.conf")
            with open(self.conf, "w") as f:
                f.write(config)
            cmd += ["-c", self.conf]
        self.proc = subprocess.Popen(cmd + list(args), stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        deadline = time.monotonic() + 15 * SLOW
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("emotiond did not start: " + self.stderr())
            time.sleep(0.02)

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def client(self, subscribe=None):
        return Client(self.sock, subscribe)

    def stop(self):
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(10 * SLOW)
        return rc, time.monotonic() - t0


class Client:
    def __init__(self, path, subscribe=None):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.settimeout(10 * SLOW)
        self.buf = b""
        self.hello = self.next("hello")
        if subscribe is not None:
            self.send({"cmd": "subscribe", "topics": subscribe})
            self.next("subscribed")

    def send(self, obj):
        self.s.sendall((json.dumps(obj) + "\n").encode() if not isinstance(obj, bytes) else obj)

    def line(self):
        while b"\n" not in self.buf:
            data = self.s.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def msg(self):
        line = self.line()
        return None if line is None else json.loads(line)

    def next(self, type_, limit=2000):
        for _ in range(limit):
            m = self.msg()
            if m is None:
                raise AssertionError("connection closed while waiting for " + type_)
            if m["type"] == type_:
                return m
        raise AssertionError("no %s message in %d" % (type_, limit))

    def close(self):
        self.s.close()


def iou(a, b):
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


class Protocol(unittest.TestCase):
    def test_hello_frames_telemetry_and_clean_stop(self):
        with Daemon("--fps", "30") as d:
            self.assertEqual(os.stat(d.sock).st_mode & 0o777, 0o660)
            c = d.client()
            h = c.hello
            self.assertEqual((h["protocol"], h["model"]), (1, "nano-b-quick"))
            self.assertRegex(h["instance"], "^[0-9a-f]{16}$")
            self.assertEqual(d.client().hello["instance"], h["instance"])   # one per run
            self.assertIn("happiness", h["classes"])
            self.assertTrue(h["source"].startswith("file:"))
            frames = [c.next("frame") for _ in range(10)]
            for f in frames[3:]:
                self.assertEqual((f["width"], f["height"]), (640, 480))
                self.assertEqual(len(f["faces"]), 1, f)
                face = f["faces"][0]
                self.assertGreater(iou(face["box"], [176, 66, 95, 95]), 0.6, face)
                self.assertAlmostEqual(sum(face["scores"].values()), 1, delta=0.01)
                self.assertEqual(face["label"], max(face["scores"], key=face["scores"].get))
                self.assertEqual(face["id"], frames[3]["faces"][0]["id"])
                self.assertLess(f["latency_ms"], 5000 * SLOW)  # sane; speed is the benchmark's job
            # the client's credentials are logged
            self.assertIn("client 1 connected: pid %d, uid %d" % (os.getpid(), os.getuid()),
                          d.stderr())
            seqs = [f["seq"] for f in frames]
            self.assertEqual(seqs, sorted(seqs))
            t, rates = telemetry_over(c, 2 if SLOW == 1 else 4)
            self.assertGreater(rates["capture"], 5 / SLOW)
            self.assertGreater(rates["faces"], 5 / SLOW)
            for stage in ("capture", "detect", "classify", "publish"):
                self.assertIn("p99_ms", t["stages"][stage])
            self.assertIsNone(t["images_per_s_per_w"]) if t["power"] is None else None
            rc, took = d.stop()
            self.assertEqual(rc, 0, d.stderr())
            self.assertLess(took, 1.0 * SLOW)
            self.assertFalse(os.path.exists(d.sock), "socket left behind")

    def test_image_source(self):
        """image:PHOTO, the still delivered again at the pace asked: its own size, the face."""
        photo = os.path.join(SRC, "samples/astronaut.pgm")
        with Daemon("--fps", "30", source="image:" + photo) as d:
            c = d.client()
            self.assertEqual(c.hello["source"], "image:" + photo)
            frames = [c.next("frame") for _ in range(4)]
            for f in frames[1:]:
                self.assertEqual((f["width"], f["height"]), (512, 512))
                self.assertEqual(len(f["faces"]), 1, f)
                self.assertGreater(iou(f["faces"][0]["box"], [176, 66, 95, 95]), 0.6, f)
                self.assertEqual(f["faces"][0]["id"], frames[1]["faces"][0]["id"])
            seqs = [f["seq"] for f in frames]
            self.assertEqual(seqs, sorted(set(seqs)))
            self.assertEqual(d.stop()[0], 0, d.stderr())

    def test_status_and_emotionctl(self):
        with Daemon("--fps", "30") as d:
            c = d.client(subscribe=[])
            time.sleep(1.3)
            c.send({"cmd": "status"})
            st = c.next("status")
            for key in ("uptime_s", "clients", "source_connected", "stages", "drops"):
                self.assertIn(key, st)
            out = subprocess.run([*EMOTIONCTL, "status", "--socket", d.sock], capture_output=True,
                                 text=True, timeout=10 * SLOW)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("classify", out.stdout)
            self.assertIn("end-to-end", out.stdout)
            out = subprocess.run([*EMOTIONCTL, "watch", "--socket", d.sock, "--count", "5"],
                                 capture_output=True, text=True, timeout=10 * SLOW)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = [l for l in out.stdout.splitlines() if "seq=" in l]
            self.assertGreaterEqual(len(lines), 3, out.stdout)
            self.assertIn("box=", lines[-1])
            out = subprocess.run([*EMOTIONCTL, "watch", "--json", "--socket", d.sock, "--count", "2"],
                                 capture_output=True, text=True, timeout=10 * SLOW)
            msgs = [json.loads(l) for l in out.stdout.splitlines()]
            self.assertEqual(msgs[0]["type"], "hello")

    def test_example_client(self):
        with Daemon("--fps", "30") as d:
            out = subprocess.run([sys.executable, os.path.join(SRC, "docs/example_client.py"),
                                  d.sock, "--count", "5"], capture_output=True, text=True,
                                 timeout=20 * SLOW)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.splitlines()
            self.assertTrue(lines[0].startswith("model nano-b-quick"), lines)
            self.assertGreaterEqual(len(lines), 4, lines)

    @native_only("expects the first frame before the first telemetry (1 s in); emulated, "
                 "the first frame takes longer")
    def test_socat_and_jq(self):
        if not shutil.which("socat") or not shutil.which("jq"):
            self.skipTest("socat or jq not installed (scripts/deps installs them)")
        with Daemon("--fps", "30") as d:
            out = subprocess.run("socat -u UNIX-CONNECT:%s - | head -n 4 | jq -c .type" % d.sock,
                                 shell=True, capture_output=True, text=True, timeout=10 * SLOW)
            self.assertEqual(out.stdout.split()[:2], ['"hello"', '"frame"'], out.stderr)

    def test_bad_input_keeps_the_connection(self):
        with Daemon("--fps", "30") as d:
            c = d.client(subscribe=[])
            for bad, says in ((b"hello world\n", "invalid JSON"), (b"[1,2]\n", "object"),
                              (b'{"cmd":"subscibe"}\n', "unknown command 'subscibe'"),
                              (b'{"cmd":"subscribe","topics":["frames"]}\n', "unknown topic"),
                              (b'{"cmd":"subscribe"}\n', "topics"),
                              (b'\xff\xfe{"cmd":1}\n', "")):
                c.send(bad)
                e = c.next("error")
                self.assertIn(says, e["error"])
            c.send({"cmd": "status"})
            self.assertEqual(c.next("status")["type"], "status")
            # an oversized line closes that connection only
            big = d.client(subscribe=[])
            big.send(b"x" * 5000)
            self.assertIn("4096", big.next("error")["error"])
            try:
                self.assertIsNone(big.msg())
            except ConnectionResetError:   # closed with our unread bytes: also closed
                pass
            # a flood closes that connection only
            flood = d.client(subscribe=[])
            flood.send(b'{"cmd":"status"}\n' * 200)
            msgs = []
            while (m := flood.msg()) is not None:
                msgs.append(m)
            self.assertTrue(any("too many" in m.get("error", "") for m in msgs))
            # half-closed: asks, shuts its side, still gets the answer and frames
            half = d.client()
            half.send({"cmd": "status"})
            half.s.shutdown(socket.SHUT_WR)
            half.next("status")
            half.next("frame")
            c.send({"cmd": "status"})
            self.assertEqual(c.next("status")["type"], "status")
            self.assertIsNone(d.proc.poll())

    @native_only("needs the daemon to publish faster than a client reads (250 frames/s "
                 "asked); emulated, it publishes about 1 a second")
    def test_slow_client_loses_only_its_own_messages(self):
        with Daemon("--fps", "250") as d:
            slow = d.client(subscribe=["frame"])
            fast = d.client(subscribe=["frame"])
            before, during = [], []
            start = time.monotonic()
            t0 = None   # the first frame: startup time (slow under ASan) is not the test's
            asked = 0
            while True:
                m = fast.msg()
                # the fast client is never told of drops: it got every frame published
                self.assertNotEqual(m["type"], "dropped")
                if t0 is None and m["type"] == "frame":
                    t0 = time.monotonic()
                now = time.monotonic() - (t0 or start)
                if m["type"] == "frame":
                    (before if now < 1 else during).append(m["latency_ms"])
                if m["type"] == "status" and m.get("drops", {}).get("clients", 0) > 0 \
                        and len(during) > 100:
                    break
                self.assertLess(now, 60, "the slow client never lost a message")
                if now > asked + 0.5:     # the daemon counts the slow one's drops
                    fast.send({"cmd": "status"})
                    asked = now
            med = lambda xs: sorted(xs)[len(xs) // 2]
            self.assertLess(med(during), med(before) * 3 + 5, (med(before), med(during)))
            slow.s.settimeout(10)
            deadline = time.monotonic() + 30
            while (m := slow.msg())["type"] != "dropped":
                self.assertLess(time.monotonic(), deadline, "no dropped notice")
            self.assertGreater(m["count"], 0)
            self.assertEqual(m["total"], m["count"])

    def test_socket_group(self):
        import grp
        try:
            gid = grp.getgrnam("nogroup").gr_gid
        except KeyError:
            self.skipTest("no group 'nogroup' on this machine")
        if os.getuid() != 0 and gid not in os.getgroups():
            self.skipTest("needs root or membership of 'nogroup' to hand the socket over")
        with Daemon("--fps", "30", config="[daemon]\nsocket_group = nogroup\n") as d:
            self.assertEqual(os.stat(d.sock).st_gid, gid)
            self.assertEqual(os.stat(d.sock).st_mode & 0o777, 0o660)

    def test_too_many_clients(self):
        with Daemon("--fps", "30", config="[daemon]\nmax_clients = 2\n") as d:
            a, b = d.client(), d.client()
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.sock)
            self.assertIn(b"too many clients", s.recv(4096))
            a.next("frame"), b.next("frame")


CHURN = """
import socket, sys, time
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(sys.argv[1])
    except OSError:
        pass
    s.close()
"""


def churners(sock, seconds, n=4):
    """n processes that connect and close in a loop for `seconds` (bounded, local only).
    Niced: what is measured is the event loop's fairness, not a share of the CPU."""
    return [subprocess.Popen([sys.executable, "-c", CHURN, sock, str(seconds)],
                             preexec_fn=lambda: os.nice(10)) for _ in range(n)]


def frames_in(client, seconds):
    """Frames a subscriber receives in `seconds`, and the longest gap between two."""
    n, last, gap = 0, time.monotonic(), 0.0
    end = last + seconds
    while time.monotonic() < end:
        m = client.msg()
        if m is None:
            break
        if m["type"] == "frame":
            now = time.monotonic()
            n, gap, last = n + 1, max(gap, now - last), now
    return n, gap


class FairService(unittest.TestCase):
    @native_only("compares the frames a subscriber gets in 4 s with and without churn "
                 "(more than 10 needed); emulated, the pipeline publishes about 1 a second")
    def test_churning_clients_do_not_starve_a_subscriber(self):
        """Four processes looping connect/close used to cut a subscriber from 122 frames to
        29 in 4 s: the loop accepted until EAGAIN, which churn never reaches."""
        with Daemon("--fps", "30") as d:
            c = d.client(["frame"])
            alone, _ = frames_in(c, 4)
            procs = churners(d.sock, 5)
            try:
                time.sleep(0.5)
                churned, gap = frames_in(c, 4)
            finally:
                for p in procs:
                    p.wait(30)
            print("\nfair service: subscriber alone %d frames in 4 s, with 4 churning clients %d "
                  "(%.0f %%), longest gap %.0f ms" % (alone, churned, 100.0 * churned / max(alone, 1),
                                                   gap * 1000), file=sys.stderr)
            self.assertGreater(alone, 10)
            self.assertGreaterEqual(churned, 0.75 * alone)
            self.assertEqual(d.stop()[0], 0)

    def test_idle_client_is_closed_subscribers_stay(self):
        with Daemon("--fps", "30", config="[daemon]\nidle_timeout_s = 1\n") as d:
            idle = d.client([])
            quiet = d.client(["telemetry"])
            default = d.client()
            t0 = time.monotonic()
            err = idle.next("error")
            self.assertIn("idle for 1 s with no subscription", err["error"])
            self.assertIsNone(idle.msg())          # and closed
            self.assertLess(time.monotonic() - t0, 4)
            time.sleep(1.5)
            quiet.next("telemetry")
            default.next("frame")
            # a command resets the clock: a client that keeps talking is not idle
            chatty = d.client([])
            for _ in range(8):          # past 2 s: the idle sweep runs once a second
                time.sleep(0.3)         # well inside the 1 s idle limit, round trip and all
                chatty.send({"cmd": "status"})
                chatty.next("status")
            self.assertEqual(d.stop()[0], 0)

    def test_clients_per_uid(self):
        with Daemon("--fps", "30", config="[daemon]\nmax_clients_per_uid = 2\n") as d:
            a, b = d.client(), d.client()
            s = socket.socket(socket.AF_UNIX)
            s.connect(d.sock)
            self.assertIn(b"too many clients of uid %d (2)" % os.getuid(), s.recv(4096))
            a.next("frame"), b.next("frame")
            a.close()
            time.sleep(0.3)
            d.client().next("frame")               # the slot is free again

    def test_sigterm_within_a_second_whatever_the_clients_do(self):
        with Daemon("--fps", "30", config="[daemon]\nmax_clients = 128\nlog_level = warning\n") as d:
            stalled = []
            for _ in range(100):
                s = socket.socket(socket.AF_UNIX)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.connect(d.sock)
                stalled.append(s)                   # subscribed by default, never read
            procs = churners(d.sock, 4)
            time.sleep(2)
            rc, took = d.stop()
            for p in procs:
                p.wait(30)
            print("\nSIGTERM with 100 stalled and 4 churning clients: exit in %.0f ms" % (took * 1000),
                  file=sys.stderr)
            self.assertEqual(rc, 0)
            self.assertLess(took, 1.0 * SLOW)
            for s in stalled:
                s.close()


class Lifecycle(unittest.TestCase):
    def test_notify_ready_and_watchdog(self):
        path = os.path.join(TMP, "notify.sock")
        n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        n.bind(path)
        n.settimeout(10 * SLOW)
        with Daemon("--fps", "30", env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "600000"}) as d:
            got = set()
            t0 = time.monotonic()
            while not {"READY=1", "WATCHDOG=1"} <= got and time.monotonic() - t0 < 10 * SLOW:
                got.update(n.recv(4096).decode().split("\n"))
            self.assertIn("READY=1", got)
            self.assertIn("WATCHDOG=1", got)
            self.assertTrue(any(g.startswith("STATUS=") for g in got), got)
            d.stop()
        n.close()

    def test_watch_retry_follows_the_daemon(self):
        sock = os.path.join(TMP, "later.sock")
        errors = open(os.path.join(TMP, "watch-retry.err"), "w+")
        watch = subprocess.Popen([*EMOTIONCTL, "watch", "--retry", "--count", "3", "--socket", sock],
                                 stdout=subprocess.PIPE, stderr=errors, text=True)
        daemon = None
        try:
            # no daemon yet: said once, then retried quietly (the daemon starts after it is
            # said: emulated, emotionctl itself can take seconds to start)
            said = lambda: "cannot connect" in read_text(errors.name)  # noqa: E731
            wait_for(lambda: said() or watch.poll() is not None, 10,
                     "emotionctl watch to say it cannot connect")
            self.assertIsNone(watch.poll(), read_text(errors.name))
            time.sleep(1.5)         # retries, quietly
            daemon = subprocess.Popen([*EMOTIOND, "--socket", sock, "--model", MODEL, "--fps",
                                       "30", "--source", "file:" + ASTRONAUT_CLIP],
                                      stderr=subprocess.DEVNULL)
            out, _ = watch.communicate(timeout=20 * SLOW)
            err = read_text(errors.name)
            self.assertEqual(watch.returncode, 0, err)
            self.assertEqual(err.count("cannot connect"), 1, err)
            self.assertGreaterEqual(len([l for l in out.splitlines() if "seq=" in l]), 2, out)
        finally:
            if daemon is not None:
                daemon.terminate()
                try:
                    daemon.wait(10 * SLOW)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
            if watch.poll() is None:
                watch.kill()
                watch.wait()
            errors.close()

    def test_socket_activation(self):
        path = os.path.join(TMP, "activated.sock")
        lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        lsock.bind(path)
        lsock.listen(8)
        fd = lsock.fileno()

        def as_fd3():
            os.dup2(fd, 3)
            os.set_inheritable(3, True)
        # LISTEN_PID must be the daemon's own pid: a shell sets it, then becomes emotiond
        cmd = ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh", *EMOTIOND,
               "--model", MODEL, "--socket", os.path.join(TMP, "unused.sock"), "--fps", "30",
               "--source", "file:" + ASTRONAUT_CLIP]
        log = open(os.path.join(TMP, "activated.log"), "w+")
        proc = subprocess.Popen(cmd, preexec_fn=as_fd3, stderr=log, close_fds=False)
        try:
            c = Client(path)
            self.assertEqual(c.hello["protocol"], 1)
            c.next("frame")
            self.assertFalse(os.path.exists(os.path.join(TMP, "unused.sock")))
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(10 * SLOW), 0)
            self.assertTrue(os.path.exists(path), "systemd's socket must stay")
            log.seek(0)
            self.assertIn("serving the socket systemd passed", log.read())
        finally:
            if proc.poll() is None:
                proc.kill()
            lsock.close()

    def test_sighup_reload(self):
        base = "[daemon]\nmodel = %s\n" % MODEL
        with Daemon("--fps", "30", config=base + "[telemetry]\ninterval_s = 2\n", model=None) as d:
            c = d.client(subscribe=["telemetry"])
            with open(d.conf, "w") as f:
                f.write("[daemon]\nmodel = %s\n[telemetry]\ninterval_s = 0.3\n"
                        "[detect]\nwidth = 400\n" % OTHER_MODEL)
            instance = c.hello["instance"]
            d.proc.send_signal(signal.SIGHUP)
            hello = c.next("hello")
            self.assertEqual(hello["model"], "random-recon")   # live model switch
            self.assertEqual(hello["instance"], instance)      # a reload is the same run
            c.next("telemetry")
            t1 = c.next("telemetry")["ts"]
            t2 = c.next("telemetry")["ts"]
            self.assertLess(t2 - t1, 0.8 if SLOW == 1 else 1.5)     # 0.3 s; 2 s before
            log = d.stderr()
            self.assertIn("interval_s = 0.3", log)
            self.assertIn("[detect] width changed to '400' but needs a restart", log)
            with open(d.conf, "w") as f:
                f.write("[telemetry]\ninterval_s = banana\n")
            d.proc.send_signal(signal.SIGHUP)
            wait_log(d, "keeping the running configuration")
            self.assertIn("emotiond.conf:2", d.stderr())
            with open(d.conf, "w") as f:
                f.write("[daemon]\nmodel = %s\n" % os.path.join(TMP, "missing.enn"))
            d.proc.send_signal(signal.SIGHUP)
            wait_log(d, "keeping " + OTHER_MODEL)
            self.assertIn("missing.enn", d.stderr())
            c.next("telemetry")
            self.assertEqual(d.stop()[0], 0)

    def test_sighup_every_live_key(self):
        """Every live key and one that needs a restart, in one SIGHUP: each is applied (or
        refused) and logged, and what the protocol can show, it shows."""
        int8 = os.path.join(TMP, "live-int8")
        os.makedirs(int8, exist_ok=True)
        other = os.path.join(int8, "random-recon.enn")
        for path in (other, os.path.join(int8, "random-recon-int8.enn")):
            shutil.copy(OTHER_MODEL, path)     # [classify] precision = int8 takes the sibling
        base = "[daemon]\nmodel = %s\n[telemetry]\ninterval_s = 2\n" % MODEL
        live = [("daemon", "model", other), ("daemon", "log_level", "debug"),
                ("preview", "enabled", "true"), ("preview", "width", "160"),
                ("preview", "fps", "5"), ("preview", "quality", "50"),
                ("detect", "min_face", "2000"), ("detect", "max_faces", "4"),
                ("detect", "interval", "2"), ("detect", "score_threshold", "0.95"),
                ("detect", "nms_threshold", "0.4"), ("track", "min_iou", "0.5"),
                ("track", "max_absent_s", "0.2"), ("track", "half_life_s", "0.25"),
                ("classify", "crop_widen", "1.2"), ("classify", "align_eyes", "false"),
                ("classify", "crop_rule", "landmarks"), ("classify", "mirror", "true"),
                ("classify", "precision", "int8"), ("telemetry", "interval_s", "0.3")]
        profile = [("model", ""), ("detect_interval", "3"), ("fps_cap", "5"),
                   ("workers", "1"), ("precision", "keep")]
        with Daemon("--fps", "30", config=base, model=None) as d:
            c = d.client(subscribe=["frame", "telemetry"])
            self.assertEqual(c.hello["precision"], "fp32")
            deadline = time.monotonic() + 10 * SLOW
            while not c.next("frame")["faces"]:
                self.assertLess(time.monotonic(), deadline, "no face before the reload")
            text, section = "", None
            for sec, key, value in live + [("detect", "width", "400")]:
                text += ("[%s]\n" % sec if sec != section else "") + "%s = %s\n" % (key, value)
                section = sec
            text += "[profile.MODE_NOT_THIS_BOX]\n" + "".join("%s = %s\n" % kv for kv in profile)
            with open(d.conf, "w") as f:
                f.write(text)
            d.proc.send_signal(signal.SIGHUP)
            # [daemon] model with [classify] precision: the int8 sibling of the new model
            # (a copy of the fp32 file: the name says which file runs)
            hello = c.next("hello")
            self.assertEqual(hello["model"], "random-recon-int8")
            self.assertEqual(hello["preview"], {"enabled": True, "width": 160, "fps": 5})
            t1 = c.next("telemetry")["ts"]                  # [telemetry] interval_s
            self.assertLess(c.next("telemetry")["ts"] - t1, 0.8)
            # [detect] min_face 2000 (with the other detect and track keys): the face is
            # no longer found, and its track ends after max_absent_s
            deadline = time.monotonic() + 10 * SLOW
            while c.next("frame")["faces"]:
                self.assertLess(time.monotonic(), deadline, "the face outlived min_face")
            log = d.stderr()
            for sec, key, value in live:
                self.assertIn("reload: [%s] %s = %s\n" % (sec, key, value), log)
            self.assertIn("model: %s" % os.path.join(int8, "random-recon-int8.enn"), log)
            self.assertIn("[detect] width changed to '400' but needs a restart; still using "
                          "the old value", log)
            # each live key, and the new profile's five keys (they apply in that mode only)
            self.assertIn("%d changes applied, 1 need a restart" % (len(live) + len(profile)),
                          log)
            deadline = time.monotonic() + 5 * SLOW
            while ": debug: " not in d.stderr().split("reloaded", 1)[1]:   # [daemon] log_level
                self.assertLess(time.monotonic(), deadline, "no debug line after the reload")
                time.sleep(0.1)
            self.assertEqual(d.stop()[0], 0)

    def test_config_replaced_by_a_fifo(self):
        """A FIFO at the config path used to block the event loop on SIGHUP."""
        with Daemon("--fps", "30", config="[telemetry]\ninterval_s = 0.3\n") as d:
            c = d.client(["telemetry"])
            c.next("telemetry")
            os.unlink(d.conf)
            os.mkfifo(d.conf)
            d.proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            c.send({"cmd": "status"})
            t0 = time.monotonic()
            c.next("status")
            self.assertLess(time.monotonic() - t0, 2)
            wait_log(d, "not a regular file")
            os.unlink(d.conf)
            self.assertEqual(d.stop()[0], 0)
        fifo = os.path.join(TMP, "fifo.conf")
        os.mkfifo(fifo)
        out = subprocess.run([*EMOTIOND, "--check-config", "-c", fifo], capture_output=True,
                             text=True, timeout=10 * SLOW)
        self.assertEqual(out.returncode, 1)
        self.assertIn("not a regular file", out.stderr)

    def test_clip_truncated_or_deleted_while_streaming(self):
        """The file: reader mapped the clip: truncating it was SIGBUS, the daemon died and
        left its socket. Deleting it left status saying the source was connected."""
        clip = os.path.join(TMP, "changing.mjpeg")
        write_clip(clip, [cv2.imread(os.path.join(SRC, "samples/astronaut.pgm"))], 120)
        with Daemon("--fps", "60", source="file:" + clip) as d:
            c = d.client(["frame"])
            c.next("frame")
            size = os.path.getsize(clip)
            os.truncate(clip, size // 3 + 11)
            with open(clip, "r+b") as f:
                f.seek(size // 6)
                f.write(b"\xff\xd8\xff" * 5000)
            time.sleep(3)
            self.assertIsNone(d.proc.poll(), d.stderr())
            c.send({"cmd": "status"})
            self.assertTrue(c.next("status")["source_connected"])
            os.unlink(clip)
            deadline = time.monotonic() + 10 * SLOW     # seen at the next read: within a pass
            while True:
                c.send({"cmd": "status"})
                if not c.next("status")["source_connected"]:
                    break
                self.assertLess(time.monotonic(), deadline, "still 'connected' after deletion")
                time.sleep(0.3)
            self.assertEqual(d.stop()[0], 0)

    def test_once_and_check_config(self):
        out = subprocess.run([*EMOTIOND, "--once", "--socket", os.path.join(TMP, "once.sock"),
                              "--model", MODEL, "--source", "file:" + ASTRONAUT_CLIP],
                             capture_output=True, text=True, timeout=60 * SLOW)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("source ended", out.stderr)
        bad = os.path.join(TMP, "bad.conf")
        with open(bad, "w") as f:
            f.write("[detect]\nwidht = 3\n")
        out = subprocess.run([*EMOTIOND, "--check-config", "-c", bad], capture_output=True,
                             text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("bad.conf:2: [detect] widht: unknown key", out.stderr)
        out = subprocess.run([*EMOTIOND, "--check-config", "--model", MODEL], capture_output=True,
                             text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("[daemon]", out.stdout)
        for args, says in ((["--model", "/nonexistent.enn"], "/nonexistent.enn"),
                           (["--source", "file:/nonexistent.mjpeg"], "/nonexistent.mjpeg"),
                           (["--source", "bogus:x"], "bogus")):
            cmd = [*EMOTIOND, "--socket", os.path.join(TMP, "x.sock"), "--model", MODEL] + args
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=20 * SLOW)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn(says, out.stderr)

    def test_detector_backends(self):
        """The detector is checked with the config: a missing model, and the OpenCV
        backends in a build without OpenCV, are refused with a clear message."""
        conf = os.path.join(TMP, "detector.conf")

        def run(text, *args):
            with open(conf, "w") as f:
                f.write(text)
            return subprocess.run([*EMOTIOND, "-c", conf, "--model", MODEL,
                                   "--socket", os.path.join(TMP, "det.sock"),
                                   "--source", "file:" + ASTRONAUT_CLIP] + list(args),
                                  capture_output=True, text=True, timeout=30 * SLOW)
        out = run("", "--check-config")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("backend = yunet\n", out.stdout)
        out = run("[detect]\nmodel = %s\n" % os.path.join(TMP, "missing-yunet.enn"),
                  "--check-config")
        self.assertEqual(out.returncode, 1, out.stderr)
        self.assertIn("missing-yunet.enn", out.stderr)
        for backend in ("cascade", "yunet-opencv"):
            text = "[detect]\nbackend = %s\n" % backend
            if WITH_OPENCV:
                if backend == "cascade":
                    out = run(text, "--check-config")
                    self.assertEqual(out.returncode, 0, out.stderr)
                else:
                    out = run(text, "--check-config")
                    self.assertEqual(out.returncode, 1, out.stderr)
                    self.assertIn("needs a model file", out.stderr)
                continue
            says = ("emotiond was built without OpenCV: detector backend '%s' is not "
                    "available; use 'yunet'" % backend)
            for args in (["--check-config"], []):     # and at startup: refused, no crash
                out = run(text, *args)
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertIn("detector.conf: [detect] backend: " + says, out.stderr)

    def test_socket_directory_missing_full_or_taken(self):
        def start(sock):
            cmd = [*EMOTIOND, "--socket", sock, "--model", MODEL, "--source", "file:" + ASTRONAUT_CLIP]
            return subprocess.run(cmd, capture_output=True, text=True, timeout=20 * SLOW)
        out = start(os.path.join(TMP, "no-such-dir", "e.sock"))
        self.assertEqual(out.returncode, 1)
        self.assertIn("does its directory exist?", out.stderr)
        with Daemon("--fps", "30") as d:
            out = start(d.sock)
            self.assertEqual(out.returncode, 1)
            self.assertIn("another process is serving this socket", out.stderr)
            d.client().next("frame")               # the first one is untouched
        full = os.path.join(TMP, "full")
        os.mkdir(full)
        if os.getuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=4",
                                               "tmpfs", full], capture_output=True).returncode:
            self.skipTest("needs root and tmpfs mounts to fill a socket directory")
        try:
            for i in range(100):                   # use up every inode
                try:
                    open(os.path.join(full, "f%d" % i), "w").close()
                except OSError:
                    break
            out = start(os.path.join(full, "e.sock"))
            self.assertEqual(out.returncode, 1)
            self.assertIn("No space left on device", out.stderr)
        finally:
            subprocess.run(["umount", full])

    def test_corrupt_frames_are_skipped(self):
        clip = os.path.join(TMP, "corrupt.mjpeg")
        data = bytearray(open(ASTRONAUT_CLIP, "rb").read())
        for k in range(1000, len(data), 7919):
            data[k] ^= 0x55
        with open(clip, "wb") as f:
            f.write(data[: len(data) // 2] + b"garbage" * 100 + data[len(data) // 2:])
        with Daemon("--fps", "100", source="file:" + clip) as d:
            c = d.client()
            c.next("frame")
            # natively ~100 frames are read by the first telemetry; emulated, ~10-20
            deadline = time.monotonic() + 10 * SLOW
            while not c.next("telemetry")["drops"]["corrupt"]:
                self.assertLess(time.monotonic(), deadline, "no corrupt frame counted")
            self.assertEqual(d.stop()[0], 0)


@unittest.skipUnless(os.path.isdir(FACES), "needs ../shared/data/faces (absent here)")
class Faces(unittest.TestCase):
    def face_counts_and_boxes(self, conf):
        boxes = {}
        for line in open(os.path.join(FACES, "boxes.csv")).read().splitlines()[1:]:
            name, *b = line.split(",")
            boxes.setdefault(name, []).append([float(v) for v in b])
        names = sorted(boxes)
        clip = os.path.join(TMP, "faces.mjpeg")
        write_clip(clip, [cv2.imread(os.path.join(FACES, n)) for n in names], 1)
        conf += "interval = 1\nwidth = 640\n"
        with Daemon("--fps", "4", config=conf, source="file:" + clip) as d:
            c = d.client(subscribe=["frame"])
            checked = set()
            while len(checked) < len(names):
                f = c.next("frame")
                want = boxes[names[f["seq"] % len(names)]]
                got = [face["box"] for face in f["faces"]]
                self.assertEqual(len(got), len(want), (names[f["seq"] % len(names)], got))
                for w in want:
                    self.assertGreater(max(iou(w, g) for g in got), 0.4, (w, got))
                checked.add(f["seq"] % len(names))

    def test_face_counts_and_boxes(self):
        """The default detector: YuNet on our engine, the shipped model."""
        self.face_counts_and_boxes("[detect]\n")

    @unittest.skipUnless(WITH_OPENCV and os.path.isfile(YUNET_ONNX),
                         "needs a build with OpenCV and the YuNet ONNX model (absent here)")
    def test_face_counts_and_boxes_opencv(self):
        self.face_counts_and_boxes("[detect]\nbackend = yunet-opencv\nmodel = %s\n" % YUNET_ONNX)


class Telemetry(unittest.TestCase):
    def test_xavier_power_mode_watts_and_profile_switch(self):
        root = os.path.join(TMP, "xavier")
        shutil.copytree(XAVIER, root)
        conf = ("[profile.MODE_10W_2CORE]\nmodel = %s\ndetect_interval = 10\nfps_cap = %g\n"
                "workers = 1\n"
                "[profile.MODE_15W_6CORE]\nmodel = %s\n" % (OTHER_MODEL, 10 / SLOW, MODEL))
        with Daemon("--fps", "30", "--system-root", root, config=conf) as d:
            c = d.client(subscribe=["telemetry"])
            t = c.next("telemetry")
            self.assertEqual(t["power_mode"], {"id": 2, "name": "MODE_15W_6CORE"})
            self.assertEqual(t["profile"], "MODE_15W_6CORE")
            self.assertEqual(t["model"], "nano-b-quick")
            self.assertIsNotNone(t["power"])
            self.assertGreater(t["power"]["watts"], 0)
            self.assertAlmostEqual(t["images_per_s_per_w"], t["faces_per_s"] / t["power"]["watts"],
                                   delta=0.05 * t["images_per_s_per_w"] + 0.01)
            self.assertIn("CPU-therm", t["temperatures_c"])
            with open(os.path.join(root, "var/lib/nvpmodel/status"), "w") as f:
                f.write("pmode:0003 fmode:quiet\n")
            t0 = time.monotonic()
            c.send({"cmd": "subscribe", "topics": ["telemetry"]})
            hello = c.next("hello", limit=100)
            # seen within 0.5 s by design; the rest is loading the model (slow under
            # sanitizers on a busy box)
            self.assertLess(time.monotonic() - t0, 2.5 * SLOW)
            self.assertEqual(hello["model"], "random-recon")
            t = c.next("telemetry")
            self.assertEqual(t["power_mode"]["name"], "MODE_10W_2CORE")
            self.assertEqual(t["profile"], "MODE_10W_2CORE")
            self.assertEqual(t["workers"], 1)
            t, rates = telemetry_over(c, 4)     # whole windows under the profile's cap
            cap = 10 / SLOW
            self.assertGreater(rates["capture"], 1.5 * cap)
            # admitted at most once per 0.9/cap s; plus frames admitted before the first
            # window and still in the pipeline at its start
            classified, seconds = rates["classify"] * rates["seconds"], rates["seconds"]
            self.assertLess(classified, seconds * cap / 0.9 + 3,
                            "%.1f frames classified in %.1f s under a cap of %g/s"
                            % (classified, seconds, cap))
            self.assertGreater(t["capped"], 0)  # a running total
            self.assertIn("applying profile MODE_10W_2CORE", d.stderr())


def jpeg_sof(data):
    """(height, width, components) of a baseline JPEG, checking SOI, EOI and that its one
    frame header is SOF0 (baseline), 8-bit."""
    assert data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9", (data[:4], data[-4:])
    at, sof = 2, None
    while at + 4 <= len(data):
        assert data[at] == 0xFF, "not a marker at %d" % at
        marker, seg = data[at + 1], int.from_bytes(data[at + 2:at + 4], "big")
        if marker == 0xDA:
            break
        assert marker not in (0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD,
                              0xCE, 0xCF), "SOF%d: not baseline" % (marker - 0xC0)
        if marker == 0xC0:
            assert data[at + 4] == 8
            sof = (int.from_bytes(data[at + 5:at + 7], "big"),
                   int.from_bytes(data[at + 7:at + 9], "big"), data[at + 9])
        at += 2 + seg
    assert sof, "no SOF0"
    return sof


def preview_picture(msg):
    """The preview's JPEG, checked as the protocol says, decoded (gray or BGR)."""
    import numpy as np
    data = base64.b64decode(msg["jpeg"], validate=True)
    h, w, components = jpeg_sof(data)
    assert (w, h) == (msg["width"], msg["height"]), ((w, h), msg["width"], msg["height"])
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert img is not None and img.shape[:2] == (h, w), img.shape
    assert components == (1 if img.ndim == 2 else 3)
    return img


PREVIEW_ON = "[preview]\nenabled = true\n"


def collect(client, seconds, until=None):
    """Messages for `seconds` (or until until(msgs) is true), as (arrival, message)."""
    got, end = [], time.monotonic() + seconds
    while time.monotonic() < end and not (until and until(got)):
        m = client.msg()
        if m is None:
            break
        got.append((time.monotonic(), m))
    return got


class Preview(unittest.TestCase):
    """The preview topic (docs/protocol.md): opt-in twice, rate-limited, a decodable JPEG
    with the boxes drawn, never at another client's expense."""

    def test_enabled_and_subscribed(self):
        with Daemon("--fps", "30", config=PREVIEW_ON) as d:
            c = d.client(["frame", "preview", "telemetry"])
            self.assertEqual(c.hello["preview"], {"enabled": True, "width": 320, "fps": 2})
            msgs = [m for _, m in collect(c, 4.2 * SLOW)]
            previews, frame_of, latest = [], [], {}   # the clip loops: seq starts again
            for m in msgs:
                if m["type"] == "frame":
                    latest[m["seq"]] = m
                elif m["type"] == "preview":
                    previews.append(m)
                    frame_of.append(latest.get(m["seq"]))  # its frame message came first
            self.assertGreaterEqual(len(previews), 5 if SLOW == 1 else 2, len(msgs))
            # the plain thumbnail of the clip's frame, to tell drawn pixels from the picture
            import numpy as np
            first = open(ASTRONAUT_CLIP, "rb").read()
            first = first[:first.index(b"\xff\xd9") + 2]
            plain = cv2.resize(cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_GRAYSCALE),
                               (320, 240), interpolation=cv2.INTER_AREA)
            with_faces = 0
            for p, f in zip(previews, frame_of):
                self.assertEqual(list(p), ["type", "seq", "ts", "width", "height", "frame_width",
                                           "frame_height", "faces", "jpeg"])
                self.assertIsNotNone(f, "no frame message before preview %d" % p["seq"])
                self.assertEqual(p["ts"], f["ts"])
                self.assertEqual((p["width"], p["height"], p["frame_width"], p["frame_height"]),
                                 (320, 240, 640, 480))
                img = preview_picture(p)
                self.assertEqual(img.ndim, 2, "the pipeline is gray: so is the preview")
                self.assertEqual(len(p["faces"]), len(f["faces"]))
                for pf, ff in zip(p["faces"], f["faces"]):
                    self.assertEqual((pf["id"], pf["label"], pf["confidence"]),
                                     (ff["id"], ff["label"], ff["confidence"]))
                    for k in range(4):
                        self.assertLessEqual(abs(pf["box"][k] - ff["box"][k] / 2), 1, (pf, ff))
                    x, y, w, h = pf["box"]
                    edge = [(x, yy) for yy in range(y + 4, y + h - 4)] + \
                           [(xx, y + h - 1) for xx in range(x + 4, x + w - 4)]
                    drawn = sum(int(img[b, a]) for a, b in edge) / len(edge)
                    under = sum(int(plain[b, a]) for a, b in edge) / len(edge)
                    self.assertGreater(drawn, 215, (pf["box"], drawn))
                    self.assertGreater(drawn, under + 30, (pf["box"], drawn, under))
                    with_faces += 1
            self.assertGreater(with_faces, 0, "no preview showed the face")
            # at most fps a second: consecutive previews' frames at least 1/fps apart
            ts = [p["ts"] for p in previews]
            for a, b in zip(ts, ts[1:]):
                self.assertGreaterEqual(b - a, 0.5 - 0.005, ts)
            tel = [m for m in msgs if m["type"] == "telemetry"][-1]["preview"]
            self.assertGreater(tel["sent"], 0, tel)
            self.assertGreater(tel["encode_p50_ms"], 0, tel)
            self.assertLessEqual(tel["fps"], 2 * 1.25 / SLOW + 1, tel)
            self.assertEqual((tel["skipped"], tel["oversize"]), (0, 0), tel)
            self.assertEqual(d.stop()[0], 0, d.stderr())

    def test_disabled_subscribing_is_accepted_and_nothing_is_sent(self):
        with Daemon("--fps", "30") as d:
            c = d.client()
            self.assertEqual(c.hello["preview"], {"enabled": False})
            c.send({"cmd": "subscribe", "topics": ["frame", "preview", "telemetry"]})
            self.assertEqual(c.next("subscribed")["topics"], ["frame", "telemetry", "preview"])
            msgs = [m for _, m in collect(c, 2.5 * SLOW)]
            types = [m["type"] for m in msgs]
            self.assertNotIn("preview", types)
            self.assertGreater(types.count("frame"), 10 / SLOW)
            self.assertIsNone([m for m in msgs if m["type"] == "telemetry"][-1]["preview"])

    def test_enabled_but_not_subscribed_nothing_is_made(self):
        with Daemon("--fps", "30", config=PREVIEW_ON) as d:
            default = d.client()                      # frame and telemetry, not preview
            tel_only = d.client(["telemetry"])
            msgs = [m for _, m in collect(default, 2.5 * SLOW)]
            self.assertNotIn("preview", [m["type"] for m in msgs])
            self.assertGreater([m["type"] for m in msgs].count("frame"), 10 / SLOW)
            tel = [m for m in msgs if m["type"] == "telemetry"][-1]["preview"]
            # nothing drawn or encoded while nobody asks
            self.assertEqual((tel["fps"], tel["sent"], tel["busy"]), (0, 0, 0), tel)
            self.assertIsNone(tel["encode_p50_ms"])
            self.assertNotIn("preview", [m["type"] for _, m in collect(tel_only, 0.5)])

    def test_enabled_live_by_sighup(self):
        with Daemon("--fps", "30", config="[telemetry]\ninterval_s = 1\n") as d:
            c = d.client(["preview", "telemetry"])
            self.assertFalse(c.hello["preview"]["enabled"])
            self.assertNotIn("preview", [m["type"] for _, m in collect(c, 1.2)])
            with open(d.conf, "w") as f:
                f.write(PREVIEW_ON + "width = 160\nfps = 4\nquality = 60\n")
            d.proc.send_signal(signal.SIGHUP)
            hello = c.next("hello")
            self.assertEqual(hello["preview"], {"enabled": True, "width": 160, "fps": 4})
            p = c.next("preview")
            self.assertEqual((p["width"], p["height"]), (160, 120))
            self.assertEqual(preview_picture(p).shape, (120, 160))
            # quality alone is not in hello: applied without one
            with open(d.conf, "w") as f:
                f.write(PREVIEW_ON + "width = 160\nfps = 4\nquality = 20\n")
            d.proc.send_signal(signal.SIGHUP)
            after = [m for _, m in collect(c, 1.5 * SLOW)]
            self.assertNotIn("hello", [m["type"] for m in after])
            self.assertIn("preview", [m["type"] for m in after])
            self.assertIn("reload: [preview] quality = 20", d.stderr())
            with open(d.conf, "w") as f:
                f.write("[preview]\nenabled = false\n")
            d.proc.send_signal(signal.SIGHUP)
            self.assertEqual(c.next("hello")["preview"], {"enabled": False})
            self.assertNotIn("preview", [m["type"] for _, m in collect(c, 1.5 * SLOW)])
            self.assertEqual(d.stop()[0], 0, d.stderr())

    def test_bad_preview_config_names_the_key(self):
        conf = os.path.join(TMP, "preview-bad.conf")
        for text, says in (("fps = 0", "[preview] fps: '0' is not a number in 0.1..10"),
                           ("width = 2000", "[preview] width: '2000' is not an integer in 64..1280"),
                           ("quality = 99", "[preview] quality: '99' is not an integer in 10..95"),
                           ("enabled = perhaps", "[preview] enabled: 'perhaps' is not a boolean")):
            with open(conf, "w") as f:
                f.write("[preview]\n%s\n" % text)
            out = subprocess.run([*EMOTIOND, "--check-config", "-c", conf, "--model", MODEL],
                                 capture_output=True, text=True, timeout=10 * SLOW)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertIn("preview-bad.conf:2: " + says, out.stderr)

    @native_only("needs frames published faster than a stalled client's buffers take "
                 "(100 frames/s asked); emulated, the daemon publishes about 1 a second")
    def test_slow_preview_client_costs_another_no_frame(self):
        clip = os.path.join(TMP, "long.mjpeg")
        write_clip(clip, [cv2.imread(os.path.join(SRC, "samples/astronaut.pgm"))], 800)
        # big previews, often: 640 px at quality 95, 10 a second
        conf = PREVIEW_ON + "width = 640\nfps = 10\nquality = 95\n"
        with Daemon("--fps", "100", config=conf, source="file:" + clip) as d:
            stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(d.sock)
            stalled.sendall(b'{"cmd":"subscribe","topics":["frame","preview"]}\n')
            fast = d.client(["frame", "preview", "telemetry"])
            got, asked, st = [], 0, None
            start = time.monotonic()
            while True:   # until the stalled one has lost frames and skipped previews
                m = fast.msg()
                now = time.monotonic() - start
                if m["type"] == "status":
                    st = m
                    # (before the first telemetry a status has none of these fields)
                    if st.get("drops", {}).get("clients", 0) > 0 and \
                            (st.get("preview") or {}).get("skipped", 0) > 0 and \
                            sum(t == "frame" for t in (x["type"] for _, x in got)) > 30:
                        break
                else:
                    got.append((now, m))
                self.assertLess(now, 60, "the stalled client never lost a message: %s" % st)
                if now > asked + 0.5:
                    fast.send({"cmd": "status"})
                    asked = now
            types = [m["type"] for _, m in got]
            self.assertNotIn("dropped", types)        # the fast one lost nothing of its own
            # any frame missing was dropped by the pipeline before publishing (the entrance,
            # newest wins), as a telemetry newer than the last frame counted says
            pipeline_drops = fast.next("telemetry")["drops"]["pipeline"]
            seqs = [m["seq"] for _, m in got if m["type"] == "frame"]
            missing = sum(b - a - 1 for a, b in zip(seqs, seqs[1:]) if b > a)
            self.assertLessEqual(missing, pipeline_drops, (missing, pipeline_drops))
            self.assertGreater(types.count("preview"), 0)
            for _, m in got:
                if m["type"] == "preview":
                    self.assertLessEqual(len(json.dumps(m, separators=(",", ":"))), 65536)
            stalled.close()
            self.assertEqual(d.stop()[0], 0, d.stderr())


class Precision(unittest.TestCase):
    def test_int8_model_chosen_by_precision_live(self):
        """[classify] precision = int8 runs the model's -int8 sibling (hello and telemetry
        say so); SIGHUP back to fp32 switches live; a missing sibling is a clear error."""
        conf = "[daemon]\nmodel = %s\n[classify]\nprecision = %s\n[telemetry]\ninterval_s = 0.3\n"
        with Daemon("--fps", "30", config=conf % (MODEL, "int8"), model=None) as d:
            c = d.client(subscribe=["telemetry", "frame"])
            hello = c.hello
            self.assertEqual(hello["precision"], "int8")
            self.assertEqual(hello["model"], "nano-b-quick-int8")
            self.assertEqual(c.next("telemetry")["precision"], "int8")
            faces = c.next("frame")["faces"]
            self.assertTrue(faces and faces[0]["label"] in hello["classes"])
            with open(d.conf, "w") as f:
                f.write(conf % (MODEL, "fp32"))
            d.proc.send_signal(signal.SIGHUP)
            hello = c.next("hello")
            self.assertEqual((hello["precision"], hello["model"]), ("fp32", "nano-b-quick"))
            self.assertEqual(d.stop()[0], 0)
        lone = os.path.join(TMP, "lone.enn")     # a model without an -int8 sibling
        shutil.copy(MODEL, lone)
        conf_path = os.path.join(TMP, "int8.conf")
        for precision, rc in (("fp32", 0), ("int8", 1)):
            with open(conf_path, "w") as f:
                f.write(conf % (lone, precision))
            out = subprocess.run([*EMOTIOND, "--check-config", "-c", conf_path],
                                 capture_output=True, text=True, timeout=10 * SLOW)
            self.assertEqual(out.returncode, rc, out.stderr)
        self.assertIn("lone-int8.enn", out.stderr)


if __name__ == "__main__":
    if not os.path.isdir(FACES):   # shown by scripts/test
        print("SKIPPED: daemon_integration Faces: needs %s" % FACES, flush=True)
    if not (WITH_OPENCV and os.path.isfile(YUNET_ONNX)):
        print("SKIPPED: daemon_integration Faces.test_face_counts_and_boxes_opencv: %s"
              % ("needs " + YUNET_ONNX if WITH_OPENCV else "built without OpenCV"), flush=True)
    if EMU:                        # what does not run under the emulator, and why
        for name, why in NATIVE_ONLY.items():
            print("SKIPPED: daemon_integration %s: not under %s: %s" % (name, EMU[0], why),
                  flush=True)
        chosen = [a for a in sys.argv[1:] if not a.startswith("-")]
        if chosen:
            every = [t.id().split(".", 1)[1] for suite in
                     unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
                     for t in suite if not getattr(t, "__unittest_skip__", False) and
                     not getattr(getattr(t, t._testMethodName), "__unittest_skip__", False)]
            rest = [t for t in every if t not in chosen and t not in NATIVE_ONLY]
            if rest:
                print("SKIPPED: daemon_integration under %s, %d tests not selected (CI time; "
                      "run natively): %s" % (EMU[0], len(rest), " ".join(rest)), flush=True)
    try:
        unittest.main(verbosity=2, warnings="ignore")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
