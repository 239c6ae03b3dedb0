#!/usr/bin/python3
"""emotiond-mqtt's throughput, added latency and memory, through a local mosquitto.

    mqtt.py EMOTIOND_MQTT [FRAMES]

A synthetic daemon (this script, protocol 1 on a Unix socket) feeds the bridge frames of
one face; mosquitto (own config, 127.0.0.1, a free port) and mosquitto_sub -F '%U %p'
(receive time, payload) are the other end. Phase 1: FRAMES frames as fast as the bridge
reads them (QoS 1): faces messages delivered per second. Phase 2: 30 frames/s for 10 s:
daemon-send to subscriber-receive latency, p50 and p99. The bridge's peak RSS (VmHWM).
Prints "mqtt: msgs_per_s=... p99_ms=... rss_mb=...".
"""
import json, os, shutil, socket, subprocess, sys, tempfile, threading, time

BRIDGE = sys.argv[1]
FRAMES = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
MOSQUITTO = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
if not MOSQUITTO or not shutil.which("mosquitto_sub"):
    print("SKIPPED: mosquitto or mosquitto_sub not installed (scripts/deps)")
    sys.exit(0)
tmp = tempfile.mkdtemp(prefix="bench-mqtt-")
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
with open(os.path.join(tmp, "m.conf"), "w") as f:
    f.write("listener %d 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n" % port)
    if os.getuid() == 0:
        f.write("user root\n")
broker = subprocess.Popen([MOSQUITTO, "-c", os.path.join(tmp, "m.conf")],
                          stderr=subprocess.DEVNULL)
time.sleep(0.5)

received = []   # (receive time, payload ts)
sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-q", "1",
                        "-t", "bench/faces", "-F", "%U %p"], stdout=subprocess.PIPE, text=True)


def read_sub():
    for line in sub.stdout:
        t, _, payload = line.partition(" ")
        try:
            received.append((float(t), json.loads(payload)["ts"]))
        except ValueError:
            pass


threading.Thread(target=read_sub, daemon=True).start()
time.sleep(0.3)

path = os.path.join(tmp, "d.sock")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
bridge = subprocess.Popen([BRIDGE, "--socket", path, "--broker", "mqtt://127.0.0.1:%d" % port,
                           "--prefix", "bench", "--qos", "1", "--summary-s", "60",
                           "--no-telemetry", "--log-level", "warning"])
conn, _ = srv.accept()
conn.sendall(b'{"type":"hello","protocol":1,"version":"bench","model":"m","classes":'
             b'["anger","disgust","fear","happiness","neutral","sadness","surprise"],'
             b'"source":"bench"}\n')


def frame(seq):
    return (json.dumps({"type": "frame", "seq": seq, "ts": time.time(), "latency_ms": 5.0,
                        "width": 640, "height": 480, "faces": [{
                            "id": 1, "box": [212, 96, 141, 141], "label": "happiness",
                            "confidence": 0.91, "scores": {
                                "anger": 0.01, "disgust": 0.0, "fear": 0.02, "happiness": 0.91,
                                "neutral": 0.05, "sadness": 0.01, "surprise": 0.0}}]}) +
            "\n").encode()


time.sleep(1.0)
for seq in range(FRAMES):                 # phase 1: as fast as the bridge reads
    conn.sendall(frame(seq))
deadline = time.monotonic() + 30
while len(received) < FRAMES and time.monotonic() < deadline:
    n = len(received)
    time.sleep(1.0)
    if len(received) == n:
        break                             # nothing more is coming (dropped ones)
phase1 = list(received)
rate = (len(phase1) - 1) / (phase1[-1][0] - phase1[0][0]) if len(phase1) > 1 else 0
delivered = len(phase1)
received.clear()
for seq in range(300):                    # phase 2: 30 frames/s for 10 s
    t0 = time.monotonic()
    conn.sendall(frame(FRAMES + seq))
    time.sleep(max(0, 1 / 30 - (time.monotonic() - t0)))
time.sleep(1.0)
lat = sorted((r - t) * 1000 for r, t in received)
with open("/proc/%d/status" % bridge.pid) as f:
    hwm = [int(l.split()[1]) for l in f if l.startswith("VmHWM")][0] / 1024
bridge.terminate()
bridge.wait(10)
sub.terminate()
broker.terminate()
broker.wait(10)
shutil.rmtree(tmp, ignore_errors=True)
p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")
print("phase 1: %d frames sent as fast as read, %d faces messages delivered (%d dropped by "
      "the bridge's queue)" % (FRAMES, delivered, FRAMES - delivered))
print("phase 2: %d of 300 delivered at 30 fps, latency p50 %.2f ms, p99 %.2f ms, max %.2f ms"
      % (len(lat), p(0.5), p(0.99), lat[-1] if lat else float("nan")))
print("mqtt: msgs_per_s=%.0f p99_ms=%.2f rss_mb=%.1f" % (rate, p(0.99), hwm))
