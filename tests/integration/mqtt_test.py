#!/usr/bin/python3
"""emotiond-mqtt against a real mosquitto broker on 127.0.0.1 (issue #20's done-when list).

    mqtt_test.py EMOTIOND EMOTIOND_MQTT SOURCE_DIR [TEST...]

Each test starts its own broker (Debian's mosquitto, our config file, a free port; never
1883), the real emotiond on a directory of copies of the sample photo, the bridge, and
mosquitto_sub. Without mosquitto, mosquitto_sub or openssl the whole file is skipped
(exit 77, ctest shows it skipped). Standard library only; the daemon, the processes and
the ports as the web tests have them (tests/support/daemon_proc.py).
"""
import json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time, unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import daemon_proc
from daemon_proc import SLOW, Proc, accept_and_close, free_port, wait_for

EMOTIOND, BRIDGE, SRC = sys.argv[1:4]
del sys.argv[1:4]
MODEL = os.path.join(SRC, "tests/fixtures/nano-b-quick.enn")
PHOTO = os.path.join(SRC, "samples/astronaut.pgm")
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
for tool, path in (("mosquitto", MOSQUITTO), ("mosquitto_sub", shutil.which("mosquitto_sub")),
                   ("mosquitto_passwd", shutil.which("mosquitto_passwd")),
                   ("openssl", shutil.which("openssl"))):
    if not path:
        print("SKIPPED: %s is not installed (scripts/deps installs mosquitto, "
              "mosquitto-clients and openssl)" % tool)
        sys.exit(77)
TMP = tempfile.mkdtemp(prefix="emotiond-mqtt-test-")
N_FRAMES = 30
FRAMES_DIR = os.path.join(TMP, "frames")
os.mkdir(FRAMES_DIR)
for i in range(N_FRAMES):
    shutil.copy(PHOTO, os.path.join(FRAMES_DIR, "%03d.pgm" % i))


class Broker:
    """mosquitto on 127.0.0.1:PORT with our own config; extra lines for TLS, auth."""

    def __init__(self, extra="", persist=False, port=None):
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(dir=TMP, prefix="broker-")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\n%s\n" % (self.port, extra))
            if "allow_anonymous" not in extra:
                f.write("allow_anonymous true\n")
            if os.getuid() == 0:          # not "mosquitto": our files are in a 0700 folder
                f.write("user root\n")
            if persist:
                f.write("persistence true\npersistence_location %s/\n" % self.dir)
        self.log = open(os.path.join(self.dir, "broker.log"), "a+")
        self.start()

    def start(self):
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log,
                                     stderr=self.log)
        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("mosquitto did not start: " + self.text())
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return True
            except OSError:
                return False
        wait_for(listening, 10, "mosquitto on port %d" % self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()


class Sub:
    """mosquitto_sub -v on TOPIC: (topic, payload) pairs as they arrive."""

    def __init__(self, broker, topic, *args):
        self.msgs = []
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
                                      "-t", topic, "-v", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        for line in self.proc.stdout:
            topic, _, payload = line.rstrip("\n").partition(" ")
            self.msgs.append((topic, payload))

    def on(self, leaf):
        return [p for t, p in list(self.msgs) if t.endswith("/" + leaf)]

    def wait(self, leaf, pred=lambda p: True, timeout=10):
        return wait_for(lambda: [p for p in self.on(leaf) if pred(p)], timeout,
                        "a message on %s" % leaf)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(5)
        self.thread.join(5)


def retained(broker, topic, *args):
    """The retained message of topic, as a fresh subscriber gets it."""
    out = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t",
                          topic, "-C", "1", "-W", "5", *args], capture_output=True, text=True)
    return out.stdout.strip()


class Bridge(Proc):
    def __init__(self, broker_url, sock, *args, prefix=None):
        self.prefix = prefix or "test/%d" % time.monotonic_ns()
        self.log = open(os.path.join(TMP, "bridge-%d.log" % time.monotonic_ns()), "w")
        self.proc = subprocess.Popen([BRIDGE, "--socket", sock, "--broker", broker_url, "--prefix",
                                      self.prefix, *args], stderr=self.log)


def daemon(sock, *args, source="image:" + PHOTO):
    """emotiond on the sample photo at sock; stop() ends it."""
    return daemon_proc.Daemon(EMOTIOND, MODEL, TMP, source, *args, sock=sock)


def listening(name):
    """A Unix socket listening at TMP/name: (socket, path)."""
    return daemon_proc.unix_listener(TMP, name)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Topics(unittest.TestCase):
    def test_topics_fields_counts_and_clean_stop(self):
        """Every topic and its fields; summaries that add up to the frames the daemon sent
        (socket activation: the bridge is connected before the first frame); SIGTERM
        publishes offline and the retained state."""
        broker = Broker()
        sub = Sub(broker, "test/#")
        lsock, sock = listening("activated.sock")
        try:
            with Bridge("mqtt://127.0.0.1:%d" % broker.port, sock, "--summary-s", "1",
                        "--homeassistant", prefix="test/topics") as b:
                sub.wait("status", lambda p: p == "online")

                # a witness beside the bridge, queued in the same backlog: what was sent
                witness = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                witness.connect(sock)
                witness_lines = []
                reader = threading.Thread(target=lambda: witness_lines.extend(
                    witness.makefile("rb")), daemon=True)
                reader.start()

                def as_fd3():
                    os.dup2(lsock.fileno(), 3)
                    os.set_inheritable(3, True)
                d = subprocess.Popen(["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"',
                                      "sh", EMOTIOND, "--model", MODEL, "--once", "--fps", "15",
                                      "--socket", os.path.join(TMP, "unused.sock"),
                                      "--source", "dir:" + FRAMES_DIR],
                                     preexec_fn=as_fd3, close_fds=False,
                                     stderr=subprocess.DEVNULL)
                self.assertEqual(d.wait(60), 0)
                reader.join(10)
                witness.close()
                sent = sum(json.loads(l)["type"] == "frame" for l in witness_lines)
                time.sleep(2.2)                   # the last window closes
                self.assertEqual(b.stop(), 0, b.stderr())
            sub.wait("status", lambda p: p == "offline")
            time.sleep(0.3)
            hello = json.loads(sub.on("hello")[0])
            for key in ("protocol", "version", "model", "classes", "source", "host", "bridge"):
                self.assertIn(key, hello)
            self.assertEqual(hello["model"], "nano-b-quick")
            self.assertEqual(hello["bridge"]["summary_s"], 1)
            summaries = [json.loads(p) for p in sub.on("summary")]
            total = sum(s["frames"] for s in summaries)
            self.assertEqual(total, sent, summaries)
            self.assertGreater(sent, N_FRAMES // 2)   # all 30 natively; ASan drops some
            faces = sum(s["faces"] for s in summaries)
            self.assertEqual(sum(sum(s["labels"].values()) for s in summaries), faces)
            self.assertGreater(faces, N_FRAMES // 2)
            for s in summaries:
                for key in ("start", "end", "interval_s", "frames", "faces", "labels", "tracks",
                            "mean_confidence", "bridge", "instance"):
                    self.assertIn(key, s)
                if s["frames"]:   # a window closed before the daemon's hello has no class list
                    self.assertEqual(set(s["labels"]) >= set(hello["classes"]), True)
                    self.assertEqual(s["instance"], hello["instance"])
                for t in s["tracks"]:
                    self.assertEqual(set(t), {"id", "dwell_s", "frames", "label"})
                    # capture time: a window's first frame brings the gap before it (1/15 s)
                    self.assertLessEqual(t["dwell_s"], s["end"] - s["start"] + 0.25)
                if s["faces"]:
                    self.assertTrue(0 < s["mean_confidence"] <= 1)
            for a, b2 in zip(summaries, summaries[1:]):
                self.assertAlmostEqual(a["end"], b2["start"], places=6)   # no gap, no overlap
            frames = [json.loads(p) for p in sub.on("faces")]
            self.assertEqual(len(frames), faces)          # one face a frame in this photo
            for f in frames:
                self.assertEqual(f["type"], "frame")
                for face in f["faces"]:
                    self.assertEqual({"id", "box", "label", "confidence", "scores"} - set(face),
                                     set())
            events = [json.loads(p) for p in sub.on("events")]
            self.assertGreaterEqual(len(events), 1)
            self.assertIsNone(events[0]["from"])
            self.assertEqual(set(events[0]), {"type", "ts", "seq", "id", "from", "to",
                                              "confidence", "instance"})
            self.assertEqual({e["instance"] for e in events}, {hello["instance"]})
            self.assertTrue(sub.on("telemetry"))
            self.assertIn("stages", json.loads(sub.on("telemetry")[0]))
            # what a dashboard that starts now sees: retained status and hello
            self.assertEqual(retained(broker, "test/topics/status"), "offline")
            self.assertEqual(json.loads(retained(broker, "test/topics/hello"))["model"],
                             "nano-b-quick")
            # Home Assistant: a sensor per label, from the summary
            node = re.sub("[^A-Za-z0-9-]", "_", hello["host"])
            for label in hello["classes"]:
                cfg = json.loads(retained(broker, "homeassistant/sensor/%s/emotiond_%s_%s/config"
                                          % (node, node, label)))
                self.assertEqual(cfg["state_topic"], "test/topics/summary")
                self.assertIn("labels.%s" % label, cfg["value_template"])
                self.assertEqual(cfg["availability_topic"], "test/topics/status")
                self.assertIn("emotiond", cfg["device"]["identifiers"][0])
        finally:
            sub.stop()
            broker.stop()
            lsock.close()

    def test_last_will_on_kill(self):
        broker = Broker()
        sock = os.path.join(TMP, "will.sock")
        d = daemon(sock, "--fps", "5")
        try:
            with Bridge("mqtt://127.0.0.1:%d" % broker.port, sock, "--keepalive", "5") as b:
                wait_for(lambda: retained(broker, b.prefix + "/status") == "online", 10,
                         "online")
                b.proc.kill()
                b.proc.wait()
                wait_for(lambda: retained(broker, b.prefix + "/status") == "offline", 10,
                         "the last will")
        finally:
            d.stop()
            broker.stop()

    def test_daemon_restart_republishes_hello_and_starts_tracks_again(self):
        """The restarted daemon numbers its tracks from 1 again: the face on the photo is
        a new track (a label change from null), not the old track 1 going on. The old
        run's tracks get a summary of their own, published at the restart (a window of
        an hour would not end otherwise): no summary names an id twice."""
        broker = Broker()
        sub = Sub(broker, "test/#")
        sock = os.path.join(TMP, "restart.sock")
        d = daemon(sock, "--fps", "5")
        try:
            with Bridge("mqtt://127.0.0.1:%d" % broker.port, sock, "--summary-s", "3600") as b:
                first = json.loads(sub.wait("hello")[0])
                event = json.loads(sub.wait("events")[0])
                self.assertIsNone(event["from"])
                d.stop()
                d.log.close()
                time.sleep(1.5)
                self.assertIsNone(b.proc.poll())
                before = len(sub.on("events"))
                d = daemon(sock, "--fps", "5")
                wait_for(lambda: len(sub.on("hello")) >= 2, 10, "a second hello")
                second = json.loads(sub.on("hello")[1])
                self.assertNotEqual(second["instance"], first["instance"])
                again = json.loads(wait_for(lambda: sub.on("events")[before:], 10,
                                            "the new track's event")[0])
                self.assertEqual((again["id"], again["from"], again["to"]),
                                 (event["id"], None, event["to"]))
                self.assertIn("reconnecting", b.stderr())
                self.assertIn("emotiond restarted", b.stderr())
                at_restart = [json.loads(p) for p in sub.on("summary")]
                self.assertEqual(b.stop(), 0)
                summaries = [json.loads(p) for p in
                             wait_for(lambda: sub.on("summary")[len(at_restart):], 10,
                                      "the summary at the stop")]
                # each names the run whose tracks it counts: the new hello is published at
                # once, the summaries in the queue's order, so the field says which is which
                self.assertTrue(at_restart, "no summary at the restart")
                self.assertEqual(at_restart[-1]["instance"], first["instance"])
                self.assertIn(event["id"], [t["id"] for t in at_restart[-1]["tracks"]])
                self.assertEqual(summaries[-1]["instance"], second["instance"])
                self.assertIn(event["id"], [t["id"] for t in summaries[-1]["tracks"]])
                self.assertEqual((event["instance"], again["instance"]),
                                 (first["instance"], second["instance"]))
                for s in at_restart + summaries:
                    ids = [t["id"] for t in s["tracks"]]
                    self.assertEqual(len(ids), len(set(ids)), "an id twice: %s" % s)
        finally:
            d.stop()
            sub.stop()
            broker.stop()


class Outage(unittest.TestCase):
    def test_broker_stop_start_queue(self):
        """Broker away 4 s with a queue of 6: the summaries of the outage all arrive, in
        order and without a gap, after the reconnection; per-frame messages were dropped
        and counted; the bridge never stopped."""
        broker = Broker(persist=True)
        sock = os.path.join(TMP, "outage.sock")
        d = daemon(sock, "--fps", "20")
        subargs = ("-c", "-i", "outage-sub", "-q", "1")
        sub = Sub(broker, "test/outage/#", *subargs)
        try:
            with Bridge("mqtt://127.0.0.1:%d" % broker.port, sock, "--summary-s", "1",
                        "--queue-size", "6", "--qos", "1", "--reconnect-max-s", "2",
                        prefix="test/outage") as b:
                sub.wait("summary")
                sub.stop()                      # its session stays, queued on the broker
                broker.stop()
                time.sleep(4)
                self.assertIsNone(b.proc.poll(), b.stderr())
                broker.start()
                time.sleep(0.3)
                sub2 = Sub(broker, "test/outage/#", *subargs)
                wait_for(lambda: any(json.loads(p)["bridge"]["broker_connects"] >= 2
                                     for p in sub2.on("summary")), 15, "summaries after")
                time.sleep(1.5)
                sub2.stop()
                self.assertIn("lost the broker", b.stderr())
                self.assertEqual(b.stop(), 0)
            summaries = [json.loads(p) for p in sub.on("summary") + sub2.on("summary")]
            summaries.sort(key=lambda s: s["start"])
            for a, c in zip(summaries, summaries[1:]):
                self.assertAlmostEqual(a["end"], c["start"], places=6, msg=summaries)
            last = summaries[-1]["bridge"]
            self.assertGreater(last["dropped_frames"], 0, last)
            self.assertEqual(last["dropped_summaries"], 0, last)
            self.assertGreaterEqual(len(summaries), 5)
        finally:
            d.stop()
            broker.stop()

    def test_daemon_socket_that_closes_at_once_is_retried_with_backoff(self):
        """The daemon's socket accepts and closes at once: tries 0.5 s apart, doubling to
        5 s (clients/reader.c), not every second; summaries go on meanwhile."""
        broker = Broker()
        sub = Sub(broker, "test/flaky/#")
        srv, sock = listening("flaky.sock")
        try:
            with Bridge("mqtt://127.0.0.1:%d" % broker.port, sock, "--summary-s", "1",
                        prefix="test/flaky") as b:
                times = accept_and_close(srv, 8.5)
                gaps = [y - x for x, y in zip(times, times[1:])]
                self.assertGreaterEqual(len(gaps), 3, gaps)
                self.assertLessEqual(len(times), 6, gaps[:20])   # at 0, 0.5, 1.5, 3.5, 7.5 s
                for x, y in zip(gaps, gaps[1:]):
                    self.assertGreater(y, x * 1.5, gaps)
                summaries = [json.loads(p) for p in sub.on("summary")]
                self.assertGreaterEqual(len(summaries), 5, summaries)
                self.assertFalse(summaries[-1]["bridge"]["daemon_connected"])
                self.assertEqual(b.stop(), 0, b.stderr())
        finally:
            sub.stop()
            broker.stop()
            srv.close()

    def test_unreachable_broker_is_no_busy_loop(self):
        sock = os.path.join(TMP, "nobroker.sock")
        d = daemon(sock, "--fps", "10")
        try:
            with Bridge("mqtt://127.0.0.1:%d" % free_port(), sock, "--reconnect-max-s", "2") as b:
                time.sleep(4)
                self.assertIsNone(b.proc.poll(), b.stderr())
                self.assertLess(cpu_seconds(b.proc.pid), 1.0)
                err = b.stderr()
                self.assertEqual(err.count("cannot reach broker"), 1, err)
                self.assertIn("Connection refused", err)
                self.assertEqual(b.stop(), 0)
        finally:
            d.stop()


def make_ca(dirname, name):
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl)."""
    def ossl(*args):
        subprocess.run(["openssl", *args], cwd=dirname, check=True, capture_output=True)
    ossl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
         "/CN=%s test CA" % name, "-keyout", name + "-ca.key", "-out", name + "-ca.crt")
    ossl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout",
         name + "-server.key", "-out", name + "-server.csr")
    with open(os.path.join(dirname, "san.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    ossl("x509", "-req", "-in", name + "-server.csr", "-CA", name + "-ca.crt", "-CAkey",
         name + "-ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out",
         name + "-server.crt")
    return {k: os.path.join(dirname, "%s-%s" % (name, k)) for k in ("ca.crt", "server.crt",
                                                                    "server.key")}


class Security(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(dir=TMP, prefix="tls-")
        cls.ca = make_ca(cls.dir, "good")
        cls.other = make_ca(cls.dir, "other")
        cls.passwd = os.path.join(cls.dir, "passwd")
        subprocess.run(["mosquitto_passwd", "-c", "-b", cls.passwd, "kiosk", "s3cret"],
                       check=True, capture_output=True)
        os.chmod(cls.passwd, 0o600)
        for name, pw in (("right", "s3cret"), ("wrong", "guess")):
            path = os.path.join(cls.dir, name)
            with open(path, "w") as f:
                f.write(pw + "\n")
            os.chmod(path, 0o600)
        cls.broker = Broker("allow_anonymous false\npassword_file %s\ncafile %s\n"
                            "certfile %s\nkeyfile %s\n" % (cls.passwd, cls.ca["ca.crt"],
                                                           cls.ca["server.crt"],
                                                           cls.ca["server.key"]))
        cls.sock = os.path.join(TMP, "tls.sock")
        cls.daemon = daemon(cls.sock, "--fps", "5")

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()
        cls.broker.stop()

    def url(self):
        return "mqtts://127.0.0.1:%d" % self.broker.port

    def sub_args(self):
        return ("--cafile", self.ca["ca.crt"], "-u", "kiosk", "-P", "s3cret")

    def test_tls_with_password(self):
        with Bridge(self.url(), self.sock, "--ca-file", self.ca["ca.crt"], "--username", "kiosk",
                    "--password-file", os.path.join(self.dir, "right")) as b:
            wait_for(lambda: retained(self.broker, b.prefix + "/status", *self.sub_args())
                     == "online", 15, "online over TLS")
            hello = json.loads(retained(self.broker, b.prefix + "/hello", *self.sub_args()))
            self.assertEqual(hello["protocol"], 1)
            self.assertEqual(b.stop(), 0, b.stderr())
            self.assertEqual(retained(self.broker, b.prefix + "/status", *self.sub_args()),
                             "offline")

    def test_wrong_password_is_a_clear_final_error(self):
        before = self.broker.text().count("kiosk")
        with Bridge(self.url(), self.sock, "--ca-file", self.ca["ca.crt"], "--username", "kiosk",
                    "--password-file", os.path.join(self.dir, "wrong")) as b:
            rc = b.proc.wait(10)
            err = b.stderr()
            self.assertEqual(rc, 78, err)
            self.assertIn("refused the bridge", err)
            self.assertRegex(err, "not authori[sz]ed|bad user name or password")
            self.assertIn("user 'kiosk'", err)
            time.sleep(0.5)
            self.assertLessEqual(self.broker.text().count("kiosk") - before, 2)  # one try

    def test_bad_ca_files(self):
        garbage = os.path.join(self.dir, "garbage.crt")
        with open(garbage, "w") as f:
            f.write("this is not a certificate\n")
        for ca, says in ((garbage, "no PEM certificate"),
                         ("/nonexistent/ca.crt", "No such file or directory")):
            out = subprocess.run([BRIDGE, "--socket", self.sock, "--broker", self.url(),
                                  "--ca-file", ca], capture_output=True, text=True, timeout=10)
            self.assertEqual(out.returncode, 78, out.stderr)
            self.assertIn("[mqtt] ca_file: " + ca, out.stderr)
            self.assertIn(says, out.stderr)
        # a real CA, but not the broker's: the TLS failure is said, retried with backoff
        with Bridge(self.url(), self.sock, "--ca-file", self.other["ca.crt"], "--username",
                    "kiosk", "--password-file", os.path.join(self.dir, "right"),
                    "--reconnect-max-s", "2") as b:
            time.sleep(3.5)
            self.assertIsNone(b.proc.poll())
            err = b.stderr()
            self.assertIn("certificate verify failed", err)
            self.assertLess(cpu_seconds(b.proc.pid), 1.0)
            self.assertLessEqual(err.count("certificate verify failed"), 4, err)
            self.assertEqual(b.stop(), 0)


class Input(unittest.TestCase):
    def test_check_config(self):
        conf = os.path.join(TMP, "bridge.conf")
        with open(conf, "w") as f:
            f.write("[daemon]\nsocket = /run/x.sock\n[mqtt]\nbroker = mqtts://broker.example\n"
                    "summary_s = 10\n")
        out = subprocess.run([BRIDGE, "--check-config", "-c", conf, "--qos", "2"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("socket = /run/x.sock", out.stdout)
        self.assertIn("qos = 2", out.stdout)
        self.assertIn("summary_s = 10", out.stdout)
        self.assertIn("port 8883 (TLS)", out.stdout)
        # the daemon accepts (and ignores) the same file
        out = subprocess.run([EMOTIOND, "--check-config", "-c", conf, "--model", MODEL],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        for text, says in (("[mqtt]\nqos = 3\n", "bad.conf:2: [mqtt] qos: '3' is not"),
                           ("[mqtt]\nbrokr = x\n", "bad.conf:2: [mqtt] brokr: unknown key"),
                           ("[mqtt]\nbroker = http://x\n", "[mqtt] broker: 'http://x' is not"),
                           ("[mqtt]\nbroker = mqtt://x:99999\n", "port is not a number"),
                           ("[mqtt]\npassword_file = /p\n", "username is not")):
            bad = os.path.join(TMP, "bad.conf")
            with open(bad, "w") as f:
                f.write(text)
            out = subprocess.run([BRIDGE, "--check-config", "-c", bad], capture_output=True,
                                 text=True)
            self.assertEqual(out.returncode, 1, text)
            self.assertIn(says, out.stderr)
        out = subprocess.run([BRIDGE, "--check-config", "--summary-s", "0"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("--summary-s: [mqtt] summary_s", out.stderr)

    def test_tracks_kept_across_a_reconnect_ended_by_a_new_instance(self):
        """A fake daemon: a model change and a reconnect to the same run (same instance)
        keep track 1 going (no new label change); a new instance ends it, so the face
        with id 1 after it is a new track (a change from null)."""
        broker = Broker()
        sub = Sub(broker, "test/inst/#")

        def subscribed():       # label changes are not retained: none may go unseen
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "-t",
                            "test/inst/probe", "-m", "x"], check=True)
            return sub.on("probe")
        wait_for(subscribed, 10, "the subscriber")
        srv, sock = listening("instance.sock")
        srv.settimeout(15 * SLOW)
        seen = []

        def send(conn, instance, ids, model="m"):
            hello = {"type": "hello", "protocol": 1, "version": "x", "model": model,
                     "classes": ["happiness", "neutral"], "source": "fake",
                     "instance": instance}
            frame = {"type": "frame", "seq": 1, "ts": time.time(),
                     "faces": [{"id": i, "label": "happiness", "confidence": 0.9} for i in ids]}
            conn.sendall((json.dumps(hello) + "\n" + json.dumps(frame) + "\n").encode())

        def events_until(marker):
            """The label changes up to the marker track's (which says the frame before
            it was taken), as (id, from)."""
            got = wait_for(lambda: [json.loads(p) for p in sub.on("events")][len(seen):]
                           if any(json.loads(p)["id"] == marker for p in sub.on("events"))
                           else None, 10, "track %d's label change" % marker)
            seen.extend(got)
            return [(e["id"], e["from"]) for e in got]

        try:
            with Bridge("mqtt://127.0.0.1:%d" % broker.port, sock,
                        prefix="test/inst") as b:
                conn, _ = srv.accept()
                send(conn, "aaaa", [1, 10])
                self.assertEqual(events_until(10), [(1, None), (10, None)])
                send(conn, "aaaa", [1, 11], model="other")      # a model change
                self.assertEqual(events_until(11), [(11, None)])
                conn.close()
                conn, _ = srv.accept()                            # a reconnect
                send(conn, "aaaa", [1, 12])
                self.assertEqual(events_until(12), [(12, None)])
                conn.close()
                conn, _ = srv.accept()                            # a restart
                send(conn, "bbbb", [1, 13])
                self.assertEqual(events_until(13), [(1, None), (13, None)])
                self.assertEqual(b.stderr().count("emotiond restarted (instance bbbb)"), 1)
                conn.close()
                self.assertEqual(b.stop(), 0)
        finally:
            sub.stop()
            broker.stop()
            srv.close()

    def test_garbage_from_the_daemon(self):
        """A fake daemon: garbage lines, an over-long line, odd faces, then protocol."""
        broker = Broker()
        sub = Sub(broker, "test/garbage/#")
        srv, sock = listening("fake.sock")
        try:
            with Bridge("mqtt://127.0.0.1:%d" % broker.port, sock, "--summary-s", "1",
                        prefix="test/garbage") as b:
                conn, _ = srv.accept()
                hello = {"type": "hello", "protocol": 1, "version": "x", "model": "m",
                         "classes": ["happiness", "neutral"], "source": "fake"}
                conn.sendall(b"not json\n[1,2]\n{\"no\":\"type\"}\n\x00\xff\xfe\n" +
                             b"x" * 300000 + b"\n" + (json.dumps(hello) + "\n").encode())
                frame = {"type": "frame", "seq": 1, "ts": time.time(), "faces": [
                    {"id": "str", "label": "happiness"}, {"id": 1}, 7,
                    {"id": 2, "label": "neutral", "confidence": 0.5}]}
                conn.sendall((json.dumps(frame) + "\n" + '{"type":"future"}\n').encode())
                sub.wait("hello")
                s = json.loads(sub.wait("summary", lambda p: json.loads(p)["frames"])[0])
                self.assertEqual((s["frames"], s["faces"], s["labels"]["neutral"]), (1, 1, 1))
                self.assertEqual(s["bridge"]["daemon_garbage"], 5)
                self.assertIsNone(b.proc.poll())
                err = b.stderr()
                self.assertIn("not JSON", err)
                self.assertIn("over 262144 bytes", err)
                conn.close()
                self.assertEqual(b.stop(), 0)
        finally:
            sub.stop()
            broker.stop()
            srv.close()


if __name__ == "__main__":
    import warnings
    warnings.simplefilter("ignore", ResourceWarning)
    try:
        unittest.main(verbosity=2)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
