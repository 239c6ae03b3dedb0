#!/usr/bin/python3
"""Soak test of the real emotiond (run by scripts/soak).

    soak.py --emotiond PATH --work DIR [--minutes M] [--model M.enn] [--clip-frames N]
            [--no-model-reload]

Runs emotiond at 30 fps on a looping 640x480 MJPEG clip (one face per frame, made once
under DIR with tools/bench/make-clip) with its socket in a private temporary directory,
and meanwhile, only over that Unix socket:
  - one steady subscriber to `frame`: counts frames, the largest gap between two;
  - churning clients, about 100 connect/close a minute: some close at once, some read the
    hello, some subscribe and read a few messages, ask for status, half-close;
  - three stalled clients that subscribe and never read, replaced every 20-45 s;
  - garbage senders: random bytes, invalid JSON, over-long lines, unknown commands,
    floods, bad topics;
  - an idle client that subscribes to nothing and then says nothing (to see whether and
    when the daemon cuts it off);
  - a SIGHUP every minute (and one in the warm-up), the config switching [detect] min_face
    between 20 and 21 and the model between two paths to the same file, so that every
    reload loads a model and frees one (--no-model-reload: min_face only).
Every 10 s it prints the daemon's RSS (VmRSS), open fds and threads. The start and end
figures are taken with every client but the steady one closed, at the same point of the
clip (so that both see the same buffers in use), the start after a
30 s warm-up. Then SIGTERM, timed. One summary line, "soak: minutes=...", and exit 1 when
the daemon crashed or exited early, RSS grew by 1 MB or more, fds or threads grew, the
steady subscriber got no frame, or SIGTERM took 1 s or more.
Standard library, plus Debian's python3-opencv through make-clip.
"""
import argparse, collections, ctypes, json, os, random, re, select, shutil, signal, socket
import subprocess, sys, tempfile, threading, time

SRC = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
WARMUP_S = 30
SAMPLE_EVERY_S = 10
PHASE_SEQ = 15          # start/end figures are taken when this frame of a pass is published
FPS = 30
OUT_LOCK = threading.Lock()


def say(*args):
    with OUT_LOCK:
        print(*args, flush=True)


class Stop(Exception):
    """Raised in the main thread by SIGTERM/SIGHUP to the driver (Ctrl-C: KeyboardInterrupt)."""


# ---- the daemon's figures ----

def proc_figures(pid):
    """{'rss_kb','anon_kb','file_kb','threads','fds'} or None when the process is gone."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "RssAnon", "RssFile", "Threads"):
                    out[k] = int(v.split()[0])
        out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    except (FileNotFoundError, ProcessLookupError):
        return None
    return {"rss_kb": out.get("VmRSS", 0), "anon_kb": out.get("RssAnon", 0),
            "file_kb": out.get("RssFile", 0), "threads": out.get("Threads", 0),
            "fds": out["fds"]}


# ---- shared state ----

class Soak:
    def __init__(self, sock_path):
        self.sock = sock_path
        self.stop = threading.Event()       # everything winds down
        self.pause = threading.Event()      # workers close their clients and wait
        self.lock = threading.Lock()
        self.n = collections.Counter()      # event counters, printed with the samples
        self.notes = []                     # odd things, printed at the end
        # steady subscriber
        self.frames = 0
        self.max_gap = 0.0
        self.max_gap_at = 0.0
        self.last_seq = None
        self.seq_cond = threading.Condition()
        self.t0 = time.monotonic()

    def count(self, key, k=1):
        with self.lock:
            self.n[key] += k

    def note(self, text):
        """Printed as it happens, the first 5 of a kind; all counted at the end."""
        if self.stop.is_set():      # winding down: connections end, as they should
            return
        t = time.monotonic() - self.t0
        kind = re.sub(r"[\d.]+", "N", text)
        with self.lock:
            self.notes.append(kind)
            seen = self.notes.count(kind)
        if seen <= 5:
            say("  note t=%4.0fs: %s%s" % (t, text, " (more of these are only counted)"
                                            if seen == 5 else ""))

    def connect(self, timeout=3.0):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(self.sock)
        except OSError:
            s.close()
            raise
        return s


class Lines:
    """Line reader over a socket with a timeout; None at EOF."""
    def __init__(self, s):
        self.s, self.buf = s, b""

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


def peer_closed(s):
    """True when the daemon has closed (or shut down) this connection."""
    p = select.poll()
    p.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return any(ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) for _, ev in p.poll(0))


# ---- the clients ----

class Worker(threading.Thread):
    name_ = "worker"

    def __init__(self, soak):
        super().__init__(daemon=True, name=self.name_)
        self.soak = soak
        self.parked = threading.Event()
        self.socks = []

    def close_all(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.socks = []

    def step(self):
        raise NotImplementedError

    def run(self):
        sk = self.soak
        while not sk.stop.is_set():
            if sk.pause.is_set():
                self.close_all()
                self.parked.set()
                while sk.pause.is_set() and not sk.stop.is_set():
                    time.sleep(0.05)
                self.parked.clear()
                continue
            try:
                self.step()
            except (OSError, ValueError) as e:      # ValueError: bad JSON from the daemon
                if sk.stop.is_set():
                    break
                sk.count("%s_error_%s" % (self.name_, type(e).__name__))
                if isinstance(e, ValueError):
                    sk.note("%s: the daemon sent something that is not JSON: %s" % (self.name_, e))
                self.close_all()
                time.sleep(0.2)
        self.close_all()
        self.parked.set()


class Steady(threading.Thread):
    """One subscriber to `frame` for the whole run: counts frames and the largest gap."""

    def __init__(self, soak):
        super().__init__(daemon=True, name="steady")
        self.soak = soak
        self.s = None

    def run(self):
        sk = self.soak
        last = None
        while not sk.stop.is_set():
            try:
                self.s = sk.connect(timeout=1.0)
                r = Lines(self.s)
                self.s.sendall(b'{"cmd":"subscribe","topics":["frame"]}\n')
                while not sk.stop.is_set():
                    try:
                        m = r.msg()
                    except socket.timeout:
                        continue
                    if m is None:
                        if not sk.stop.is_set():
                            sk.note("steady subscriber: the daemon closed its connection")
                            sk.count("steady_cut")
                        break
                    t = m.get("type")
                    if t == "frame":
                        now = time.monotonic()
                        with sk.lock:
                            sk.frames += 1
                            if last is not None and now - last > sk.max_gap:
                                sk.max_gap, sk.max_gap_at = now - last, now - sk.t0
                        last = now
                        with sk.seq_cond:
                            sk.last_seq = m.get("seq")
                            sk.seq_cond.notify_all()
                    elif t == "dropped":
                        sk.count("steady_dropped", m.get("count", 0))
                    elif t == "hello":
                        sk.count("steady_hello")
                    elif t == "error":
                        sk.note("steady subscriber got an error: %s" % m.get("error"))
            except (OSError, ValueError) as e:
                if not sk.stop.is_set():
                    sk.count("steady_error")
                    sk.note("steady subscriber: %s: %s" % (type(e).__name__, e))
                    time.sleep(0.5)
            finally:
                if self.s:
                    self.s.close()

    def wait_for_seq(self, seq, timeout):
        """Until a frame with this seq is published (after now); False on timeout."""
        sk = self.soak
        deadline = time.monotonic() + timeout
        with sk.seq_cond:
            sk.last_seq = None
            while sk.last_seq != seq:
                left = deadline - time.monotonic()
                if left <= 0 or sk.stop.is_set():
                    return False
                sk.seq_cond.wait(min(left, 0.5))
        return True


class Churn(Worker):
    """About 100 connect/close a minute, of several kinds."""
    name_ = "churn"
    KINDS = ("abrupt", "hello", "hello", "subscribe", "subscribe", "subscribe", "status",
             "halfclose", "unread")

    def step(self):
        sk = self.soak
        t_next = time.monotonic() + random.uniform(0.4, 0.8)      # ~100 a minute
        kind = random.choice(self.KINDS)
        s = sk.connect()
        self.socks.append(s)
        sk.count("churn")
        r = Lines(s)
        if kind == "abrupt":
            pass
        else:
            hello = r.msg()
            if hello is None or hello.get("type") != "hello":
                if hello and "too many" in hello.get("error", ""):
                    sk.count("refused_too_many")
                else:
                    sk.note("churn: expected hello, got %r" % (hello,))
            elif kind == "subscribe":
                topics = random.choice([["frame"], ["telemetry"], ["frame", "telemetry"], []])
                s.sendall(json.dumps({"cmd": "subscribe", "topics": topics}).encode() + b"\n")
                want = 0 if not topics else random.randint(1, 8) if "frame" in topics else 1
                got = 0
                while got < want + 1:       # +1: the "subscribed" answer
                    m = r.msg()
                    if m is None:
                        sk.note("churn: daemon closed a subscriber after %d messages" % got)
                        break
                    got += 1
            elif kind == "status":
                s.sendall(b'{"cmd":"status"}\n')
                while (m := r.msg()) is not None and m.get("type") != "status":
                    pass
                if m is None:
                    sk.note("churn: no status answer")
            elif kind == "halfclose":
                s.sendall(b'{"cmd":"subscribe","topics":["frame"]}\n')
                s.shutdown(socket.SHUT_WR)
                for _ in range(3):
                    if r.msg() is None:
                        sk.note("churn: half-closed client was closed")
                        break
            elif kind == "unread":
                s.sendall(b'{"cmd":"subscribe","topics":["frame","telemetry"]}\n')
                time.sleep(random.uniform(0.1, 0.5))    # closes with data unread
        self.close_all()
        time.sleep(max(0.0, t_next - time.monotonic()))


class Stalled(Worker):
    """Three clients that subscribe and never read; each replaced after 20-45 s."""
    name_ = "stalled"
    SLOTS = 3

    def __init__(self, soak):
        super().__init__(soak)
        self.until = {}

    def close_all(self):
        super().close_all()
        self.until = {}

    def step(self):
        sk = self.soak
        now = time.monotonic()
        for s in list(self.socks):
            if now >= self.until[s]:
                if peer_closed(s):
                    sk.count("stalled_cut")
                    sk.note("a stalled subscriber had been closed by the daemon")
                s.close()
                self.socks.remove(s)
                del self.until[s]
        while len(self.socks) < self.SLOTS:
            s = sk.connect()
            s.sendall(b'{"cmd":"subscribe","topics":["frame","telemetry"]}\n')
            self.socks.append(s)
            self.until[s] = time.monotonic() + random.uniform(20, 45)
            sk.count("stalled")
        time.sleep(0.5)


def one_line(b):
    """Random bytes as one line (many lines at once would be a flood)."""
    return b.replace(b"\n", b" ")


def deep(n):
    return b"[" * n + b"]" * n


GARBAGE = [
    ("random_bytes", lambda: one_line(os.urandom(random.randint(1, 3000))) + b"\n"),
    ("random_no_newline", lambda: one_line(os.urandom(random.randint(1, 3000)))),
    ("invalid_json", lambda: random.choice([b"hello world", b"{", b'{"cmd":', b"}{", b"nul",
                                            b'{"cmd":"status",}', b"{'cmd':'status'}"]) + b"\n"),
    ("not_object", lambda: random.choice([b"[1,2]", b"null", b"42", b'"status"', b"true"]) + b"\n"),
    ("unknown_cmd", lambda: json.dumps({"cmd": random.choice(
        ["subscibe", "shutdown", "exec", "", "SUBSCRIBE", "status " * 10])}).encode() + b"\n"),
    ("bad_fields", lambda: random.choice([
        b'{"cmd":1}', b'{"cmd":null}', b'{"cmd":"subscribe"}', b'{"cmd":"subscribe","topics":"frame"}',
        b'{"cmd":"subscribe","topics":["frames"]}', b'{"cmd":"subscribe","topics":[1,{}]}',
        b'{"cmd":"subscribe","topics":["frame","frame","frame"]}', b'{"topics":[]}',
        b'{"cmd":"status","cmd":"status"}', b'{"cmd":"st\\u0000atus"}',
        b'{"cmd":"\xff\xfe"}', b'{"cmd":"status"}\r', b'{"x":1e999999}']) + b"\n"),
    ("nested", lambda: deep(random.choice([64, 512, 2000])) + b"\n"),
    ("nul_bytes", lambda: b"\0" * random.randint(1, 100) + b"\n"),
    ("empty_lines", lambda: b"\n" * random.randint(1, 15)),
    ("long_line", lambda: b"x" * random.randint(4097, 60000) + b"\n"),
    ("long_no_newline", lambda: b"y" * random.randint(4097, 20000)),
    ("long_json", lambda: b'{"cmd":"status","pad":"' + b"z" * random.randint(4100, 9000) + b'"}\n'),
    ("flood", lambda: b'{"cmd":"status"}\n' * random.randint(50, 300)),
    ("partial_then_close", lambda: b'{"cmd":"subscribe","topics":["fr'),
]


class Garbage(Worker):
    """A connection a second or so, sending one kind of garbage. Kinds the protocol answers
    with an error must leave the connection usable: a status command after them must be
    answered. Over-long lines and floods must get the connection closed."""
    name_ = "garbage"
    CLOSES = ("long_line", "long_no_newline", "long_json", "flood")
    HANG_UP = ("random_no_newline", "partial_then_close")      # we close, unanswered

    def step(self):
        sk = self.soak
        t_next = time.monotonic() + random.uniform(0.6, 1.4)
        kind, make = random.choice(GARBAGE)
        s = sk.connect(timeout=2.0)
        self.socks.append(s)
        sk.count("garbage")
        r = Lines(s)
        closed = False
        try:
            s.sendall(make())
            if kind not in self.CLOSES and kind not in self.HANG_UP:
                s.sendall(b'{"cmd":"status"}\n')
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if kind in self.HANG_UP:
            if random.random() < 0.5:
                r.msg()         # the hello, sometimes
        elif not closed:
            try:
                while True:
                    m = r.msg()
                    if m is None:
                        closed = True
                        break
                    if m.get("type") == "error":
                        sk.count("garbage_errors")
                    if m.get("type") == "status":
                        sk.count("garbage_status_ok")
                        break
            except ConnectionResetError:
                closed = True
            except socket.timeout:
                sk.note("garbage %s: no %s within 2 s" % (
                    kind, "close" if kind in self.CLOSES else "status answer"))
            except ValueError:
                sk.note("garbage %s: the daemon answered with something that is not JSON" % kind)
            if closed and kind not in self.CLOSES:
                sk.note("garbage %s: the daemon closed a connection it should keep" % kind)
        if closed:
            sk.count("garbage_closed_by_daemon")
        self.close_all()
        time.sleep(max(0.0, t_next - time.monotonic()))


class Idle(Worker):
    """Subscribes to nothing and then says nothing; notes when the daemon cuts it off."""
    name_ = "idle"

    def step(self):
        sk = self.soak
        s = sk.connect(timeout=0.5)
        self.socks.append(s)
        r = Lines(s)
        s.sendall(b'{"cmd":"subscribe","topics":[]}\n')
        since = time.monotonic()
        last = None
        while not sk.pause.is_set() and not sk.stop.is_set():
            try:
                m = r.msg()
            except socket.timeout:
                continue
            if m is None:
                if sk.stop.is_set():
                    break
                sk.count("idle_cut")
                sk.note("idle client (subscribed to nothing) closed by the daemon after %.1f s%s"
                        % (time.monotonic() - since,
                           ", last message: %s" % json.dumps(last) if last else ""))
                break
            if m.get("type") not in ("hello", "subscribed"):
                last = m
        self.close_all()


# ---- the run ----

def make_clip(work, frames):
    clip = os.path.join(work, "soak-one-face-%d.mjpeg" % frames)
    maker = os.path.join(SRC, "tools/bench/make-clip")
    photo = os.path.join(SRC, "samples/astronaut.pgm")
    if os.path.exists(clip) and os.path.getmtime(clip) >= max(os.path.getmtime(maker),
                                                              os.path.getmtime(photo)):
        return clip
    tmp = clip + ".tmp"
    subprocess.run(["/usr/bin/python3", maker, tmp, str(frames), "--one-face"], check=True,
                   stdout=subprocess.DEVNULL)
    os.replace(tmp, clip)
    return clip


def write_config(path, model, min_face):
    with open(path + ".tmp", "w") as f:
        f.write("[daemon]\nmodel = %s\nlog_level = info\n[detect]\nmin_face = %d\n"
                "[telemetry]\ninterval_s = 1\n" % (model, min_face))
    os.replace(path + ".tmp", path)


def die_with_parent():
    """In the daemon's child process: SIGKILL when the driver dies, whatever way."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except OSError:
        pass


def log_digest(text, limit=12):
    """Warning and error lines, numbers blanked, with counts."""
    c = collections.Counter()
    for line in text.splitlines():
        if ": warning: " in line or ": error: " in line:
            c[re.sub(r"\d+", "N", line)] += 1
    return c.most_common(limit)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--emotiond", required=True)
    ap.add_argument("--work", required=True, help="where the clip is kept and the log copied")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--model", default=os.path.join(SRC, "models/emotionnet-nano-a-fer.enn"))
    ap.add_argument("--clip-frames", type=int, default=300)
    ap.add_argument("--no-model-reload", dest="reload_model", action="store_false",
                    help="SIGHUPs change [detect] min_face only, not the model")
    a = ap.parse_args()
    if a.minutes < 1:
        sys.exit("soak: give at least 1 minute (30 s of it is warm-up)")
    if not os.path.isfile(a.model):
        a.model = os.path.join(SRC, "tests/fixtures/nano-b-quick.enn")
    os.makedirs(a.work, exist_ok=True)
    clip = make_clip(a.work, a.clip_frames)
    clip_s = a.clip_frames / FPS

    def on_signal(signum, _frame):
        raise Stop(signal.Signals(signum).name)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    tmp = tempfile.mkdtemp(prefix="emotiond-soak-")     # 0700: ours alone
    sock = os.path.join(tmp, "emotiond.sock")
    conf = os.path.join(tmp, "emotiond.conf")
    model_alias = os.path.join(tmp, "same-model.enn")
    os.symlink(os.path.abspath(a.model), model_alias)
    models = [os.path.abspath(a.model), model_alias]
    write_config(conf, models[0], 20)
    log_path = os.path.join(tmp, "daemon.log")
    log = open(log_path, "w+")
    cmd = [os.path.abspath(a.emotiond), "-c", conf, "--socket", sock,
           "--source", "file:" + os.path.abspath(clip), "--fps", str(FPS)]
    say("soak: %s" % " ".join(cmd))
    say("soak: %.4g minutes; model %s; clip %s (%d frames, loops every %.0f s)"
        % (a.minutes, a.model, clip, a.clip_frames, clip_s))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True, preexec_fn=die_with_parent)
    sk = Soak(sock)
    threads = []
    failures = []
    early_exit = None
    start = end = None
    sigterm_ms = None
    hups = 0
    t_end = None

    def alive():
        nonlocal early_exit
        if early_exit is None and proc.poll() is not None:
            early_exit = proc.returncode
            sk.stop.set()
        return early_exit is None

    def nap(seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and alive():
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return alive()

    def fig_line(tag, f):
        with sk.lock:
            n = dict(sk.n)
            frames, gap = sk.frames, sk.max_gap
        return ("  %s t=%4.0fs rss_mb=%.2f (anon %.2f, file %.2f) fds=%d threads=%d frames=%d "
                "max_gap_ms=%.0f churn=%d garbage=%d stalled=%d hups=%d"
                % (tag, time.monotonic() - sk.t0, f["rss_kb"] / 1024, f["anon_kb"] / 1024,
                   f["file_kb"] / 1024, f["fds"], f["threads"], frames, gap * 1000,
                   n.get("churn", 0), n.get("garbage", 0), n.get("stalled", 0), hups))

    def sampler():
        k = 1
        while not sk.stop.is_set():
            wait = sk.t0 + k * SAMPLE_EVERY_S - time.monotonic()
            if wait > 0 and sk.stop.wait(wait):
                break
            k += 1
            f = proc_figures(proc.pid)
            if f and not sk.stop.is_set():
                say(fig_line("sample", f))

    def hup():
        nonlocal hups
        hups += 1
        write_config(conf, models[hups % 2 if a.reload_model else 0], 20 + hups % 2)
        proc.send_signal(signal.SIGHUP)
        say("  sighup t=%4.0fs (min_face %d%s)" % (
            time.monotonic() - sk.t0, 20 + hups % 2,
            ", model path " + ("alias" if hups % 2 else "original") if a.reload_model else ""))

    def quiet_figures(tag):
        """Every client but the steady one closed, at frame PHASE_SEQ of a pass."""
        sk.pause.set()
        for w in workers:
            w.parked.wait(10)
        if not nap(1.0):
            return None
        if not steady.wait_for_seq(PHASE_SEQ, clip_s + 10):
            if not alive():
                return None
            sk.note("%s: frame seq %d never came; figures taken anyway" % (tag, PHASE_SEQ))
        f = proc_figures(proc.pid)
        if f:
            say(fig_line(tag, f))
        return f

    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                log.seek(0)
                say(log.read())
                failures.append("emotiond did not start")
                raise Stop("start")
            time.sleep(0.02)
        sk.t0 = time.monotonic()
        t_end = sk.t0 + a.minutes * 60
        steady = Steady(sk)
        workers = [Churn(sk), Stalled(sk), Garbage(sk), Idle(sk)]
        threads = [steady] + workers + [threading.Thread(target=sampler, daemon=True)]
        for t in threads:
            t.start()

        # warm-up, with one reload in it (whatever a first reload allocates for good is
        # in the baseline)
        if nap(WARMUP_S / 2):
            hup()
        if nap(WARMUP_S / 2):
            start = quiet_figures("start ")
            sk.pause.clear()
        # the run: a SIGHUP every minute, none in the last stretch before the end figures
        end_at = t_end - clip_s - 3          # room to wait for the clip's phase
        next_hup = sk.t0 + 60
        while alive() and time.monotonic() < end_at:
            if time.monotonic() >= next_hup and next_hup < end_at - 5:
                hup()
                next_hup += 60
            nap(min(1.0, max(0.0, end_at - time.monotonic())))
        if alive():
            end = quiet_figures("end   ")
        # stop: SIGTERM, timed
        if alive():
            sk.stop.set()       # the steady subscriber's end is expected from here
            t = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(5)
                sigterm_ms = (time.monotonic() - t) * 1000
                if rc != 0:
                    failures.append("emotiond exited with status %d after SIGTERM" % rc)
                elif sigterm_ms >= 1000:
                    failures.append("emotiond took %.0f ms to stop on SIGTERM" % sigterm_ms)
            except subprocess.TimeoutExpired:
                failures.append("emotiond still running 5 s after SIGTERM")
            if os.path.exists(sock):
                failures.append("socket left behind after SIGTERM")
    except (KeyboardInterrupt, Stop) as e:
        if str(e) != "start":
            failures.append("interrupted (%s)" % (type(e).__name__ if isinstance(e, KeyboardInterrupt) else e))
    finally:
        sk.stop.set()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for t in threads:
            t.join(3)
        log.flush()
        log.seek(0)
        log_text = log.read()
        log.close()
        try:
            shutil.copyfile(log_path, os.path.join(a.work, "last-daemon.log"))
        except OSError:
            pass
        shutil.rmtree(tmp, ignore_errors=True)

    if early_exit is not None:
        how = ("killed by %s" % signal.Signals(-early_exit).name if early_exit < 0
               else "exit status %d" % early_exit)
        failures.append("emotiond exited early (%s)" % how)
        say("--- daemon log, last 30 lines ---\n" + "\n".join(log_text.splitlines()[-30:]))
    interrupted = any(f.startswith("interrupted") for f in failures)
    if (start is None or end is None) and not interrupted and early_exit is None:
        failures.append("no %s figures" % ("start" if start is None else "end"))
    with sk.lock:
        frames, gap, n, notes = sk.frames, sk.max_gap, dict(sk.n), list(sk.notes)
    if frames == 0:
        failures.append("the steady subscriber got no frame")

    def fmt(v, spec="%d"):
        return "-" if v is None else spec % v
    rss0 = start["rss_kb"] / 1024 if start else None
    rss1 = end["rss_kb"] / 1024 if end else None
    growth = rss1 - rss0 if start and end else None
    if growth is not None and growth >= 1.0:
        failures.append("RSS grew by %.2f MB" % growth)
    if start and end and end["fds"] > start["fds"]:
        failures.append("open fds grew from %d to %d" % (start["fds"], end["fds"]))
    if start and end and end["threads"] > start["threads"]:
        failures.append("threads grew from %d to %d" % (start["threads"], end["threads"]))

    reloads = log_text.count("reloaded ")
    say("soak: clients: churn=%d garbage=%d (errors answered %d, closed by daemon %d, status "
        "answered after garbage %d) stalled=%d refused=%d; steady: hellos=%d dropped=%d; "
        "idle cut off %d times; stalled found closed %d; sighups=%d reloads_logged=%d; "
        "largest gap at t=%.0fs"
        % (n.get("churn", 0), n.get("garbage", 0), n.get("garbage_errors", 0),
           n.get("garbage_closed_by_daemon", 0), n.get("garbage_status_ok", 0),
           n.get("stalled", 0), n.get("refused_too_many", 0), n.get("steady_hello", 0),
           n.get("steady_dropped", 0), n.get("idle_cut", 0), n.get("stalled_cut", 0), hups,
           reloads, sk.max_gap_at))
    errs = {k: v for k, v in n.items() if "_error_" in k}
    if errs:
        say("soak: client-side errors: %s" % " ".join("%s=%d" % kv for kv in sorted(errs.items())))
    digest = log_digest(log_text)
    if digest:
        say("soak: daemon warnings/errors (numbers as N):")
        for line, c in digest:
            say("  %5d x %s" % (c, line))
    if notes:
        kinds = collections.Counter(notes)
        say("soak: %d notes:" % len(notes))
        for text, c in kinds.most_common(12):
            say("  %5d x %s" % (c, text))
    for f in failures:
        say("soak: FAIL: %s" % f)
    say("soak: minutes=%s rss_start_mb=%s rss_end_mb=%s rss_growth_mb=%s fds_start=%s fds_end=%s "
        "threads_start=%s threads_end=%s frames=%d max_gap_ms=%.0f sigterm_ms=%s"
        % ("%g" % a.minutes, fmt(rss0, "%.2f"), fmt(rss1, "%.2f"), fmt(growth, "%.2f"),
           fmt(start and start["fds"]), fmt(end and end["fds"]),
           fmt(start and start["threads"]), fmt(end and end["threads"]), frames, gap * 1000,
           fmt(sigterm_ms, "%.0f")))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
