#!/usr/bin/python3
"""The whole daemon, end to end: the real emotiond replays a 640x480 MJPEG clip (one face
per frame) once as fast as the pipeline goes and once paced at 30 fps, for each detector;
a client on the real socket takes every frame message; with mirror averaging off (the
default) and on. Detectors: yunet (our engine, the default), and in a build with OpenCV
yunet-opencv (given its ONNX file) and cascade. Prints per run:
  pipeline: detector=D pace=P mirror=on|off fps=F p50_ms=.. p99_ms=.. cpu_ms_per_frame=.. rss_mb=..
fps: frames published per second (first to last message); p50/p99: the messages'
capture-to-publish latency; cpu: the process's user+system time (startup included) per
frame published; rss: its peak resident memory.
With --preview BENCH_PREVIEW, also the preview topic's cost (issue #23): the default
detector unpaced (3 runs each) and at 30 fps (2 each) with [preview] off and on (default
width and rate), interleaved, the client subscribed to frame, telemetry and preview in
all; then the work per preview timed by tools/bench/bench_preview on the same clip (400
previews); one line (medians of the runs):
  preview: width=320 fps=2 encode_ms_p50=.. encode_ms_p99=.. bytes_p50=.. pipeline_fps_off=..
  pipeline_fps_on=.. p99_ms_off=.. p99_ms_on=.. (unpaced) p99_ms_off_30fps=.. p99_ms_on_30fps=..
  cpu_ms_per_frame_off_30fps=.. cpu_ms_per_frame_on_30fps=.. (the daemon's CPU time per
  frame: less at the mercy of other work on the box than wall-clock figures)
  rss_mb_off_30fps=.. rss_mb_on_30fps=.. (peak resident memory) runs=U,P
  bytes_p50_received=.. (the JPEGs the client got) daemon_encode_ms_p50=.. (the daemon's
  telemetry, median of its windows' p50)
PIPELINE_PREVIEW_RUNS sets the unpaced repeats.
--only-preview skips the detector table.
    pipeline.py EMOTIOND CLIP MODEL [YUNET_ONNX] [--preview BENCH_PREVIEW] [--only-preview]
PIPELINE_BUILD names the build in each line (build=opencv unless set, e.g. no-opencv)."""
import base64, json, os, socket, subprocess, sys, tempfile, time

args = [a for a in sys.argv[1:] if a != "--only-preview"]
only_preview = "--only-preview" in sys.argv
preview_tool = None
if "--preview" in args:
    i = args.index("--preview")
    preview_tool = args[i + 1]
    del args[i:i + 2]
emotiond, clip, model = args[0:3]
yunet = args[3] if len(args) > 3 else ""
build = os.environ.get("PIPELINE_BUILD", "opencv")


def detector_config(detector):
    if detector == "yunet-opencv":
        return "[detect]\nbackend = yunet-opencv\nmodel = %s\n" % yunet
    return "[detect]\nbackend = %s\n" % detector


def available(detector):
    """The detector this emotiond has, or a reason it has not."""
    if detector == "yunet-opencv" and not os.path.isfile(yunet):
        return "%s is absent (face_detection_yunet_2023mar.onnx)" % (yunet or "no model")
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write(detector_config(detector))
        f.flush()
        out = subprocess.run([emotiond, "-c", f.name, "--model", model, "--check-config"],
                             capture_output=True, text=True)
    return None if out.returncode == 0 else out.stderr.strip()


def run(detector, pace, mirror, preview=None):
    """One run; preview None: the table's (telemetry off, default topics); True/False:
    [preview] enabled, the client subscribed to frame, telemetry and preview."""
    tmp = tempfile.mkdtemp(prefix="bench-pipeline-")
    sock = os.path.join(tmp, "s.sock")
    conf = os.path.join(tmp, "c.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nlog_level = warning\n[telemetry]\ninterval_s = %s\n"
                % (3600 if preview is None else 1))
        f.write("[classify]\nmirror = %s\n" % ("true" if mirror else "false"))
        f.write(detector_config(detector))
        if preview is not None:
            f.write("[preview]\nenabled = %s\n" % ("true" if preview else "false"))
    cmd = [emotiond, "-c", conf, "--once", "--socket", sock, "--model", model,
           "--source", "file:" + clip] + (["--fps", str(pace)] if pace else [])
    proc = subprocess.Popen(cmd)
    while not os.path.exists(sock):
        if proc.poll() is not None:
            sys.exit("emotiond failed to start: %s" % " ".join(cmd))
        time.sleep(0.002)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    if preview is not None:
        s.sendall(b'{"cmd":"subscribe","topics":["frame","telemetry","preview"]}\n')
    lat, times, faces, buf = [], [], 0, b""
    jpeg_bytes, encode_p50 = [], []
    while True:
        data = s.recv(1 << 20)
        if not data:
            break
        buf += data
        *lines, buf = buf.split(b"\n")
        now = time.monotonic()
        for line in lines:
            m = json.loads(line)
            if m["type"] == "frame":
                lat.append(m["latency_ms"])
                times.append(now)
                faces += len(m["faces"])
            elif m["type"] == "preview":
                jpeg_bytes.append(len(base64.b64decode(m["jpeg"])))
            elif m["type"] == "telemetry" and m["preview"] and m["preview"]["encode_p50_ms"]:
                encode_p50.append(m["preview"]["encode_p50_ms"])
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit("emotiond exited with status %d" % status)
    n = len(lat)
    lat.sort()
    fps = (n - 1) / (times[-1] - times[0]) if n > 1 else 0
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000 / max(n, 1)
    if preview is not None:
        return {"fps": fps, "p99": lat[min(n - 1, int(n * 0.99))], "jpeg_bytes": jpeg_bytes,
                "encode_p50": encode_p50, "cpu_ms": cpu_ms, "rss_mb": usage.ru_maxrss / 1024}
    print("pipeline: build=%s detector=%s pace=%s mirror=%s fps=%.0f p50_ms=%.2f p99_ms=%.2f cpu_ms_per_frame=%.2f "
          "rss_mb=%.1f frames=%d faces_per_frame=%.2f"
          % (build, detector, pace or "max", "on" if mirror else "off", fps, lat[n // 2], lat[min(n - 1, int(n * 0.99))], cpu_ms,
             usage.ru_maxrss / 1024, n, faces / max(n, 1)), flush=True)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def preview_cost():
    """The pipeline with previews off and on, interleaved and repeated (this box has other
    work running: medians of the runs), unpaced and at 30 fps; then the work per preview."""
    runs = {(0, False): [], (0, True): [], (30, False): [], (30, True): []}
    for rep in range(int(os.environ.get("PIPELINE_PREVIEW_RUNS", "3"))):
        for pace in (0, 30):
            if pace == 30 and rep >= 2:   # 50 s each: two of a kind are enough
                continue
            for on in (False, True):
                r = run("yunet", pace, False, preview=on)
                runs[pace, on].append(r)
                print("preview run: pace=%s preview=%s fps=%.0f p99_ms=%.2f cpu_ms_per_frame=%.2f "
                      "previews=%d load=%.1f" % (pace or "max", "on" if on else "off", r["fps"],
                                                 r["p99"], r["cpu_ms"], len(r["jpeg_bytes"]),
                                                 os.getloadavg()[0]), flush=True)
    for (pace, on), rs in runs.items():
        assert on or not any(r["jpeg_bytes"] for r in rs), "previews sent while [preview] was off"
    fps = {k: median([r["fps"] for r in rs]) for k, rs in runs.items()}
    p99 = {k: median([r["p99"] for r in rs]) for k, rs in runs.items()}
    cpu = {k: median([r["cpu_ms"] for r in rs]) for k, rs in runs.items()}
    rss = {k: median([r["rss_mb"] for r in rs]) for k, rs in runs.items()}
    sizes = [b for k in ((0, True), (30, True)) for r in runs[k] for b in r["jpeg_bytes"]]
    daemon_ms = [e for k in ((0, True), (30, True)) for r in runs[k] for e in r["encode_p50"]]
    tool = subprocess.run([preview_tool, clip, "--count", "400"], capture_output=True, text=True,
                          check=True).stdout
    print(tool.strip())
    enc = dict(kv.split("=") for kv in tool.split()[1:])
    print("preview: width=%s fps=2 encode_ms_p50=%s encode_ms_p99=%s bytes_p50=%s "
          "pipeline_fps_off=%.0f pipeline_fps_on=%.0f p99_ms_off=%.2f p99_ms_on=%.2f "
          "p99_ms_off_30fps=%.2f p99_ms_on_30fps=%.2f cpu_ms_per_frame_off_30fps=%.2f "
          "cpu_ms_per_frame_on_30fps=%.2f rss_mb_off_30fps=%.1f rss_mb_on_30fps=%.1f "
          "runs=%d,%d bytes_p50_received=%.0f daemon_encode_ms_p50=%.2f"
          % (enc["width"], enc["ms_p50"], enc["ms_p99"], enc["bytes_p50"], fps[0, False],
             fps[0, True], p99[0, False], p99[0, True], p99[30, False], p99[30, True],
             cpu[30, False], cpu[30, True], rss[30, False], rss[30, True],
             len(runs[0, True]), len(runs[30, True]),
             median(sizes), median(daemon_ms)), flush=True)


for det in ("yunet", "yunet-opencv", "cascade") if not only_preview else ():
    why = available(det)
    if why:
        print("SKIPPED: %s: %s" % (det, why))
        continue
    for mirror in (False, True):
        for pace in (0, 30):
            run(det, pace, mirror)
if preview_tool:
    preview_cost()
