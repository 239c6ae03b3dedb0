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
    pipeline.py EMOTIOND CLIP MODEL [YUNET_ONNX]
PIPELINE_BUILD names the build in each line (build=opencv unless set, e.g. no-opencv)."""
import json, os, socket, subprocess, sys, tempfile, time

emotiond, clip, model = sys.argv[1:4]
yunet = sys.argv[4] if len(sys.argv) > 4 else ""
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


def run(detector, pace, mirror):
    tmp = tempfile.mkdtemp(prefix="bench-pipeline-")
    sock = os.path.join(tmp, "s.sock")
    conf = os.path.join(tmp, "c.conf")
    with open(conf, "w") as f:
        f.write("[daemon]\nlog_level = warning\n[telemetry]\ninterval_s = 3600\n")
        f.write("[classify]\nmirror = %s\n" % ("true" if mirror else "false"))
        f.write(detector_config(detector))
    cmd = [emotiond, "-c", conf, "--once", "--socket", sock, "--model", model,
           "--source", "file:" + clip] + (["--fps", str(pace)] if pace else [])
    proc = subprocess.Popen(cmd)
    while not os.path.exists(sock):
        if proc.poll() is not None:
            sys.exit("emotiond failed to start: %s" % " ".join(cmd))
        time.sleep(0.002)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    lat, times, faces, buf = [], [], 0, b""
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
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit("emotiond exited with status %d" % status)
    n = len(lat)
    lat.sort()
    fps = (n - 1) / (times[-1] - times[0]) if n > 1 else 0
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000 / max(n, 1)
    print("pipeline: build=%s detector=%s pace=%s mirror=%s fps=%.0f p50_ms=%.2f p99_ms=%.2f cpu_ms_per_frame=%.2f "
          "rss_mb=%.1f frames=%d faces_per_frame=%.2f"
          % (build, detector, pace or "max", "on" if mirror else "off", fps, lat[n // 2], lat[min(n - 1, int(n * 0.99))], cpu_ms,
             usage.ru_maxrss / 1024, n, faces / max(n, 1)), flush=True)


for det in ("yunet", "yunet-opencv", "cascade"):
    why = available(det)
    if why:
        print("SKIPPED: %s: %s" % (det, why))
        continue
    for mirror in (False, True):
        for pace in (0, 30):
            run(det, pace, mirror)
