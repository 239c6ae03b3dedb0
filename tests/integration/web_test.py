#!/usr/bin/python3
"""emotiond-web's page in a real browser (issue #23): the real emotiond on a clip of the
sample photo, emotiond-web on 127.0.0.1 and a free port, and Debian's headless Chromium
driven over the DevTools protocol (--remote-debugging-pipe: no extra Python module).

    web_test.py EMOTIOND EMOTIOND_WEB SOURCE_DIR OUT_DIR [TEST...]

Reads what the page shows from the DOM (its data-* counters, texts, what is hidden) and
saves screenshots in OUT_DIR (web-dashboard.png; web-dashboard-preview.png when the
daemon has the preview topic), printing their paths. Without chromium, or when it cannot
start, every test is skipped (exit 77, with the reason); so is a run where every test
skipped (the preview tests against a daemon without the preview topic).
"""
import base64, fcntl, json, os, select, shutil, subprocess, sys, time, unittest

import web_support as ws
from web_support import Daemon, Events, SLOW, Web, wait_for

ws.setup(*sys.argv[1:4])
OUT = sys.argv[4]
del sys.argv[1:5]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PREVIEW_CONFIG = "[preview]\nenabled = true\n"


class Browser:
    """Headless Chromium over --remote-debugging-pipe (fd 3: commands in, fd 4: replies
    out, NUL-separated JSON), one page."""

    def __init__(self, width=1280, height=1000):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        # bash moves the two ends to fds 3 and 4 (dash takes no fd number above 9)
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for fd in (to_chrome_r, from_chrome_w)]
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.profile = os.path.join(ws.TMP, "chromium-%d" % time.monotonic_ns())
        self.log = open(self.profile + ".log", "w")
        self.proc = subprocess.Popen(
            ["/bin/bash", "-c", 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (*ends, *ends),
             CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", "--disable-background-networking", "--mute-audio",
             "--remote-debugging-pipe", "--user-data-dir=" + self.profile,
             "--hide-scrollbars", "--window-size=%d,%d" % (width, height), "about:blank"],
            pass_fds=ends, stdout=self.log, stderr=self.log)
        for fd in ends:
            os.close(fd)
        self.buf, self.seq, self.events = b"", 0, []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime"):
            self.call(domain + ".enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)

    def call(self, method, session=False, timeout=30, **params):
        self.seq += 1
        msg = {"id": self.seq, "method": method, "params": params}
        if session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout * SLOW
        while True:
            while b"\0" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.from_chrome], [], [], left)[0]:
                    raise AssertionError("chromium did not answer %s" % method)
                data = os.read(self.from_chrome, 1 << 20)
                if not data:
                    raise AssertionError("chromium exited (%s)" % self.proc.poll())
                self.buf += data
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.seq:
                if "error" in reply:
                    raise AssertionError("%s: %s" % (method, reply["error"]))
                return reply["result"]
            self.events.append(reply)

    def navigate(self, url):
        self.call("Page.navigate", session=True, url=url)

    def js(self, expression):
        r = self.call("Runtime.evaluate", session=True, expression=expression,
                      returnByValue=True)
        if "exceptionDetails" in r:
            raise AssertionError("page script failed: %s" % r["exceptionDetails"])
        return r["result"].get("value")

    def data(self):
        """The body's data-* attributes (the page's counters)."""
        return self.js("document.body ? Object.assign({}, document.body.dataset) : {}") or {}

    def wait(self, cond, timeout, what):
        return wait_for(lambda: cond(self.data()), timeout, what + " (page: %s)" % self.data())

    def visible(self, element_id):
        return self.js("(function(e){return !!e && !e.hidden && e.offsetParent !== null})"
                       "(document.getElementById(%s))" % json.dumps(element_id))

    def text(self, element_id):
        return self.js("document.getElementById(%s).textContent" % json.dumps(element_id))

    def errors(self):
        """Script errors and console errors the page has had (a CSP violation is one)."""
        out = []
        for e in self.events:
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(e["params"]["exceptionDetails"].get("text", "exception"))
            elif (e.get("method") == "Runtime.consoleAPICalled"
                  and e["params"].get("type") == "error"):
                out.append(" ".join(str(a.get("value", "")) for a in e["params"]["args"]))
        return out

    def screenshot(self, path):
        png = self.call("Page.captureScreenshot", session=True, format="png",
                        captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(png))
        print("screenshot: %s" % path)

    def close(self):
        try:
            self.call("Browser.close", timeout=5)
        except AssertionError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.to_chrome)
        os.close(self.from_chrome)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def counts(d, key):
    return int(d.get(key, "0") or 0)


def has_preview_topic():
    """Whether this emotiond knows [preview] (the preview branch merged): the config is
    checked before any daemon runs, so the tests can skip, saying why."""
    conf = os.path.join(ws.TMP, "preview-check.conf")
    with open(conf, "w") as f:
        f.write(PREVIEW_CONFIG)
    out = subprocess.run([*ws.EMU, ws.EMOTIOND, "--check-config", "-c", conf, "--model",
                          ws.MODEL], capture_output=True, text=True)
    return out.returncode == 0, (out.stderr or out.stdout).strip()


class Dashboard(unittest.TestCase):
    def test_plots_faces_power_and_history(self):
        """The page fills from the live stream: telemetry in the frame-rate, latency,
        power and efficiency plots (the Xavier fixture gives watts and a power mode),
        frames in the faces table and the expressions plot; no script error (the CSP
        allows everything the page does). A page opened later starts from the history."""
        with Daemon(fps=15, system_root=ws.board("xavier-nx-l4t32")) as d, Web(d.sock) as w, \
                Browser() as b:
            t0 = time.monotonic()
            b.navigate(w.url)
            b.wait(lambda p: p.get("stream") == "open", 15, "the event stream")
            loaded = b.js("performance.getEntriesByType('navigation')[0].loadEventEnd")
            b.wait(lambda p: counts(p, "telemetryCount") >= 3 and counts(p, "frames") >= 20,
                   20, "3 telemetry messages and 20 frames")
            first_data = time.monotonic() - t0
            b.wait(lambda p: counts(p, "drawn") >= 2, 5, "the plots drawn")
            page = b.data()
            self.assertEqual(page["daemon"], "connected")
            for plot in ("plot-fps", "plot-latency", "plot-power", "plot-per-watt",
                         "plot-labels"):
                points = int(b.js("document.getElementById('%s').dataset.points" % plot) or 0)
                self.assertGreater(points, 0, "%s drew nothing" % plot)
            self.assertEqual(counts(page, "faces"), 1)                  # the one face in view
            row = b.js("[...document.querySelectorAll('#faces-body td')].map(t => t.textContent)")
            self.assertEqual(len(row), 3)
            self.assertTrue(row[0].isdigit(), row)
            self.assertIn(row[1], ["anger", "contempt", "disgust", "fear", "happiness",
                                   "neutral", "sadness", "surprise"])
            self.assertRegex(row[2], r"^\d+ %$")
            self.assertRegex(b.text("power-now"), r"^\d+(\.\d+)? W")
            self.assertIn("MODE_15W_6CORE", b.text("power-mode"))
            self.assertRegex(b.text("per-watt-now"), r"^\d+(\.\d+)? images/s/W$")
            self.assertRegex(b.text("fps-now"), r"^\d+(\.\d+)? frames/s$")
            self.assertRegex(b.text("footer-rss"), r"^\d+\.\d MB resident$")
            self.assertIn("nano-b-quick", b.text("model"))
            self.assertTrue(b.visible("daemon-state"))
            self.assertEqual(b.errors(), [])
            print("page load: %.0f ms to the load event, %.1f s to 3 telemetry messages and "
                  "20 frames; emotiond-web %d kB resident" % (loaded, first_data, w.rss_kb()))

            # a second page opened later starts with the seconds already seen
            b.wait(lambda p: counts(p, "telemetryCount") >= 8, 15, "8 telemetry messages")
            b.navigate(w.url)
            b.wait(lambda p: counts(p, "history") >= 8 and counts(p, "drawn") >= 2, 10,
                   "the history drawn")
            self.assertGreater(int(b.js("document.getElementById('plot-fps').dataset.points")), 6)
            self.assertGreater(int(b.js("document.getElementById('plot-labels').dataset.points")), 0)
            self.assertEqual(b.errors(), [])
            b.screenshot(os.path.join(OUT, "web-dashboard.png"))

    def test_power_na_off_a_jetson(self):
        """A board with neither power sensor nor power mode: n/a, no invented figure."""
        with Daemon(fps=15, system_root=ws.board("bare")) as d, Web(d.sock) as w, Browser() as b:
            b.navigate(w.url)
            b.wait(lambda p: counts(p, "telemetryCount") >= 2 and counts(p, "drawn") >= 1, 20,
                   "2 telemetry messages")
            time.sleep(0.5)                   # a redraw after the telemetry
            self.assertEqual(b.text("power-now"), "n/a")
            self.assertEqual(b.text("per-watt-now"), "n/a")
            self.assertIn("no power mode", b.text("power-mode"))
            self.assertEqual(b.js("document.getElementById('plot-power').dataset.points"), "0")
            self.assertGreater(int(b.js("document.getElementById('plot-fps').dataset.points")), 0)

    def test_daemon_away_then_back(self):
        """The page is served while the daemon is away, saying so; it comes back by
        itself when the daemon does (emotiond-web reconnects with backoff)."""
        sock = os.path.join(ws.TMP, "later.sock")
        with Web(sock) as w, Browser() as b:
            b.navigate(w.url)
            b.wait(lambda p: p.get("daemon") == "disconnected", 10, "the daemon state")
            self.assertIn("daemon not connected", b.text("daemon-state"))
            with Daemon(sock=sock, fps=15) as d:
                b.wait(lambda p: p.get("daemon") == "connected" and counts(p, "frames") > 0,
                       15, "the daemon back")
                self.assertEqual(d.stop(), 0)
            # no stale faces: the table empties (a bug would keep the last frame's)
            b.wait(lambda p: p.get("daemon") == "disconnected" and counts(p, "faces") == 0, 10,
                   "the daemon gone, its faces with it")
            time.sleep(0.6)                     # two redraws later, still none
            self.assertEqual(counts(b.data(), "faces"), 0)
            with Daemon(sock=sock, fps=15):
                b.wait(lambda p: p.get("daemon") == "connected" and counts(p, "hellos") >= 2,
                       15, "the daemon back again")
            self.assertEqual(w.health()["daemon_connects"], 2)

    def test_refused_stream_reopens_when_one_closes(self):
        """All max_streams taken: one more stream, the page's or any, gets 503, which
        closes an EventSource for good; the page starts a new one by itself, and once a
        stream has closed it is accepted."""
        with Daemon(fps=15) as d, Web(d.sock, config="[web]\nmax_streams = 2\n") as w, \
                Browser() as b:
            held = [Events(w) for _ in range(2)]
            for ev in held:
                self.assertEqual(ev.status, 200)
            wait_for(lambda: w.health()["streams"] == 2, 5, "2 open streams")
            b.navigate(w.url)
            b.wait(lambda p: p.get("stream") == "lost", 10, "the page's stream refused")
            self.assertEqual(w.get("/events")[0], 503)
            time.sleep(6 * SLOW)                  # past the page's 5 s before a new try
            self.assertNotEqual(b.data().get("stream"), "open")
            self.assertGreaterEqual(w.health()["rejected"], 2)   # the page's first try, ours
            held.pop().close()
            b.wait(lambda p: p.get("stream") == "open" and counts(p, "frames") > 0, 15,
                   "the page's stream accepted once one closed")
            self.assertEqual(w.health()["streams"], 2)
            self.assertEqual(w.get("/events")[0], 503)   # full again
            held[0].close()


class Preview(unittest.TestCase):
    def setUp(self):
        known, why = has_preview_topic()
        if not known:
            self.skipTest("this emotiond has no [preview] section (the daemon's preview "
                          "topic, branch 'preview', is not merged here): %s" % why)

    def test_preview_disabled_says_how_to_turn_it_on(self):
        with Daemon(fps=15) as d, Web(d.sock) as w, Browser() as b:
            hello = d.hello()
            if "preview" not in hello:
                self.skipTest("the daemon's hello has no 'preview' field: %s" % hello)
            self.assertEqual(hello["preview"], {"enabled": False})
            b.navigate(w.url)
            b.wait(lambda p: p.get("preview") == "disabled" and counts(p, "frames") > 5, 15,
                   "the preview state")
            self.assertFalse(b.visible("preview"))
            self.assertTrue(b.visible("preview-off"))
            how = b.text("preview-off")
            self.assertIn("[preview]", how)
            self.assertIn("enabled = true", how)
            self.assertIn("/etc/emotiond/emotiond.conf", how)
            self.assertIn("systemctl reload emotiond", how)
            self.assertEqual(counts(b.data(), "previews"), 0)
            self.assertEqual(w.get("/preview.jpg")[0], 404)

    def test_preview_enabled_shows_the_picture_with_its_box(self):
        import cv2
        import numpy as np
        with Daemon(fps=15, config=PREVIEW_CONFIG) as d, Web(d.sock) as w, Browser() as b:
            hello = d.hello()
            if "preview" not in hello:
                self.skipTest("the daemon's hello has no 'preview' field: %s" % hello)
            self.assertTrue(hello["preview"]["enabled"], hello)
            width = hello["preview"]["width"]
            # the message as the page gets it: no picture in it, the picture at /preview.jpg
            ev = Events(w)
            meta = ev.next("preview")
            ev.close()
            self.assertNotIn("jpeg", meta)
            self.assertGreater(meta["bytes"], 0)
            self.assertTrue(meta["faces"], "the preview message has no face: %s" % meta)
            status, headers, jpg = w.get("/preview.jpg")
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "image/jpeg")
            self.assertEqual(headers["cache-control"], "no-store")
            img = cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR)
            self.assertIsNotNone(img, "/preview.jpg does not decode")
            self.assertEqual(img.shape[1], width)
            # the daemon draws each face's box on the picture (in white on a gray one, a
            # colour per label on a colour one): the box's edges stand out from what is
            # just inside them
            gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY).astype(int)
            x, y, bw, bh = meta["faces"][0]["box"]
            h_img, w_img = gray.shape
            rows = range(max(y + 3, 0), min(y + bh - 3, h_img))
            self.assertGreater(len(rows), 10, "the face's box is not in the picture: %s" % meta)

            def edge(x0):      # the brightest of the columns x0-2..x0+2, row by row
                cols = slice(max(x0 - 2, 0), min(x0 + 3, w_img))
                return np.array([gray[r, cols].max() for r in rows])

            def stands_out(x0, inward):
                line, inside = edge(x0), edge(x0 + inward)
                return float((line >= 200).mean()), float((np.abs(line - inside) > 40).mean())
            for x0, inward in ((x, 7), (x + bw - 1, -7)):
                bright, contrast = stands_out(x0, inward)
                self.assertGreater(bright, 0.9, "no box edge drawn at x=%d (%s)" % (x0, meta))
                self.assertGreater(contrast, 0.5, "the box edge at x=%d does not stand out from "
                                   "the face" % x0)

            b.navigate(w.url)
            b.wait(lambda p: counts(p, "previews") >= 2 and counts(p, "telemetryCount") >= 3,
                   15, "two preview pictures loaded, three telemetry messages")
            self.assertTrue(b.visible("preview"))
            self.assertFalse(b.visible("preview-off"))
            # the width the page read when the last picture loaded (naturalWidth itself
            # reads 0 while Chromium fetches the next one, though the old one stays shown)
            self.assertEqual(b.data().get("previewWidth"), str(width))
            self.assertEqual(b.data().get("preview"), "enabled")
            self.assertEqual(b.errors(), [])
            b.screenshot(os.path.join(OUT, "web-dashboard-preview.png"))


def main():
    if not CHROMIUM:
        print("SKIPPED: chromium is not installed (scripts/deps installs Debian's chromium)")
        return 77
    try:
        with Browser() as b:
            version = b.call("Browser.getVersion")["product"]
    except (AssertionError, OSError) as e:
        print("SKIPPED: chromium cannot run here: %s" % e)
        return 77
    print("browser: %s" % version)
    os.makedirs(OUT, exist_ok=True)
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    ws.cleanup()
    if not r.wasSuccessful():
        return 1
    if r.testsRun and len(r.skipped) == r.testsRun:
        for test, why in r.skipped:
            print("SKIPPED: %s: %s" % (test.id(), why))
        return 77
    return 0


if __name__ == "__main__":
    sys.exit(main())
