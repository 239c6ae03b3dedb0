#!/usr/bin/python3
"""Writes the fuzzers' seed corpora, tests/fuzz/corpus/<target>/ (committed; rerun to
regenerate, the output is deterministic). Needs Debian's python3 with numpy and cv2.

Seeds are small on purpose (libFuzzer mutates them; big ones only slow it down): the
models are tiny networks, among them the graph of tests/fixtures/nano-b-quick.enn with
its channels cut down (the fixture itself is 530 KB) and a YuNet-shaped detector in
format 2 with a few channels; the images a few dozen pixels; YuNet frames a header and a
few hundred pixels (one the astronaut's face, 96x96)."""
import os
import shutil
import struct
import sys
import zlib

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
rng = np.random.default_rng(20240611)


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- .enn models (docs/model-format.md) -------------------------------------------

def _str(s):
    b = s.encode()
    return struct.pack("<H", len(b)) + b


def _tensor(n):
    a = (rng.standard_normal(n) * 0.3).astype("<f4")
    return struct.pack("<BxxxI", 0, n) + a.tobytes()


def model(name, c, h, w, classes, nodes, mean=0.5, std=0.25):
    """nodes: ("conv", inputs, in_c, out_c, k, s, relu) | ("gap", inputs)
    | ("dense", inputs, in_c, out_c, relu)"""
    body = []
    for n in nodes:
        op, ins = n[0], n[1]
        if op == "conv":
            _, _, ic, oc, k, s, relu = n
            body.append(struct.pack("<BBH", 1, relu, len(ins)) +
                        struct.pack(f"<{len(ins)}H", *ins) + struct.pack("<HBB", oc, k, s) +
                        _tensor(oc * ic * k * k) + _tensor(oc))
        elif op == "gap":
            body.append(struct.pack("<BBH", 2, 0, len(ins)) + struct.pack(f"<{len(ins)}H", *ins))
        else:
            _, _, ic, oc, relu = n
            body.append(struct.pack("<BBH", 3, relu, len(ins)) +
                        struct.pack(f"<{len(ins)}H", *ins) + struct.pack("<H", oc) +
                        _tensor(oc * ic) + _tensor(oc))
    payload = _str(name) + struct.pack("<HHHff", c, h, w, mean, std)
    payload += struct.pack("<H", len(classes)) + b"".join(_str(x) for x in classes)
    payload += struct.pack("<H", len(nodes)) + b"".join(body)
    return b"ENNM" + struct.pack("<HHII", 1, 0, len(payload), zlib.crc32(payload)) + payload


def shrunk_fixture():
    """nano-b-quick's graph (long-range sums, stride 2, 1x1 shortcuts), channels / 8."""
    d = open(os.path.join(ROOT, "tests", "fixtures", "nano-b-quick.enn"), "rb").read()
    p, o = d[16:], 0

    def u(fmt):
        nonlocal o
        v = struct.unpack_from(fmt, p, o)
        o += struct.calcsize(fmt)
        return v

    def s():
        nonlocal o
        (n,) = u("<H")
        o += n
        return p[o - n:o].decode()

    def skip_tensor():
        nonlocal o
        _, cnt = u("<BxxxI")
        o += 4 * cnt

    s()
    c, _, _ = u("<HHH")
    u("<ff")
    classes = [s() for _ in range(u("<H")[0])]
    ch = {0: c}
    shrink = lambda oc: max(1, -(-oc // 8))
    nodes = []
    for k in range(1, u("<H")[0] + 1):
        op, flags, ni = u("<BBH")
        ins = list(u(f"<{ni}H"))
        ic = ch[ins[0]]
        if op == 1:
            oc, ks, st = u("<HBB")
            skip_tensor(), skip_tensor()
            ch[k] = shrink(oc)
            nodes.append(("conv", ins, ic, ch[k], ks, st, flags))
        elif op == 2:
            ch[k] = ic
            nodes.append(("gap", ins))
        else:
            (oc,) = u("<H")
            skip_tensor(), skip_tensor()
            ch[k] = oc
            nodes.append(("dense", ins, ic, oc, flags))
    return model("nano-b-quick-shrunk", c, 16, 16, classes, nodes)


def models():
    put("fuzz_model", "nano-b-shrunk.enn", shrunk_fixture())
    put("fuzz_model", "tiny.enn", model("tiny", 1, 8, 8, ["happiness", "sadness"], [
        ("conv", [0], 1, 2, 3, 1, 1), ("conv", [1], 2, 3, 3, 2, 1), ("gap", [2]),
        ("dense", [3], 3, 2, 0)]))
    put("fuzz_model", "residual.enn", model("residual", 1, 12, 10, ["a", "b", "c"], [
        ("conv", [0], 1, 2, 3, 1, 1), ("conv", [1], 2, 2, 1, 1, 1),
        ("conv", [1, 2], 2, 2, 3, 1, 1), ("conv", [1, 2, 3], 2, 4, 3, 2, 0),
        ("gap", [4]), ("dense", [5], 4, 5, 1), ("dense", [6], 5, 3, 0)]))
    put("fuzz_model", "rgb.enn", model("rgb", 3, 6, 7, ["x", "y"], [
        ("conv", [0], 3, 2, 3, 2, 1), ("gap", [1]), ("gap", [2]), ("dense", [3], 2, 2, 0)]))
    put("fuzz_model", "pool-only.enn", model("pool only", 2, 2, 3, ["p", "q"], [
        ("gap", [0]), ("dense", [1], 2, 2, 1), ("gap", [2]), ("gap", [2, 3])]))
    # recipes (fuzz_model.c builds a valid model from them): "ENNR", channels, height,
    # width, then per node (op, argument, extra inputs); see build_recipe there
    put("fuzz_model", "recipe-cnn", b"ENNR" + bytes([0, 10, 14,
        0, 0x8D, 0,           # conv 3x3, 4 channels, relu
        0, 0x97, 0,           # conv 3x3 stride 2, 6 channels, relu
        1, 0, 0,              # global average pool
        2, 6, 0]))            # dense, 7 outputs
    put("fuzz_model", "recipe-sums", b"ENNR" + bytes([2, 6, 7,
        0, 0x09, 0,           # conv 3x3, 3 channels
        0, 0x88, 1,           # conv 1x1, 3 channels, relu, summed with a same-shape value
        4, 0x8B, 2,           # conv 3x3 stride 2 of the value before, inputs summed
        2, 0x84, 0,           # (pool) dense, 5 outputs, relu
        2, 3, 0]))            # dense, 4 outputs
    bad = bytearray(model("bad-crc", 1, 4, 4, ["k"], [("gap", [0])]))
    bad[12] ^= 0xFF
    put("fuzz_model", "bad-crc.enn", bytes(bad))
    models_v2()


# ---- version 2 .enn models and recipes ------------------------------------------------

rng2 = np.random.default_rng(20251129)   # its own: the version 1 seeds stay as they were


def _tensor2(n):
    a = (rng2.standard_normal(n) * 0.3).astype("<f4")
    return struct.pack("<BxxxI", 0, n) + a.tobytes()


def model2(name, c, h, w, classes, nodes, outputs, mean=0.5, std=0.25):
    """Format 2. nodes: ("conv", inputs, in_c, out_c, k, s, flags, groups) (flags: 1 ReLU,
    2 sigmoid) | ("maxpool", inputs) | ("upsample", inputs) | ("gap", inputs)
    | ("dense", inputs, in_c, out_c, flags); outputs: [(name, value id)]"""
    body = []
    for n in nodes:
        op, ins = n[0], n[1]
        head = lambda code, flags=0: (struct.pack("<BBH", code, flags, len(ins)) +
                                      struct.pack(f"<{len(ins)}H", *ins))
        if op == "conv":
            _, _, ic, oc, k, s, flags, g = n
            body.append(head(1, flags) + struct.pack("<HBBH", oc, k, s, g) +
                        _tensor2(oc * (ic // g) * k * k) + _tensor2(oc))
        elif op == "maxpool":
            body.append(head(4) + struct.pack("<BB", 2, 2))
        elif op == "upsample":
            body.append(head(5) + struct.pack("<B", 2))
        elif op == "gap":
            body.append(head(2))
        else:
            _, _, ic, oc, flags = n
            body.append(head(3, flags) + struct.pack("<H", oc) + _tensor2(oc * ic) +
                        _tensor2(oc))
    payload = _str(name) + struct.pack("<HHHff", c, h, w, mean, std)
    payload += struct.pack("<H", len(classes)) + b"".join(_str(x) for x in classes)
    payload += struct.pack("<H", len(nodes)) + b"".join(body)
    payload += struct.pack("<H", len(outputs))
    payload += b"".join(_str(nm) + struct.pack("<H", v) for nm, v in outputs)
    return b"ENNM" + struct.pack("<HHII", 2, 0, len(payload), zlib.crc32(payload)) + payload


def yunet_mini():
    """YuNet's shape with a few channels, at 64x64: a stride-2 stem, depthwise and grouped
    convolutions, max pools down to strides 8, 16 and 32, the deeper maps upsampled and
    summed into the shallower ones, and per stride cls and obj (sigmoid), bbox and kps
    heads: twelve outputs named as YuNet's."""
    nodes = [
        ("conv", [0], 1, 8, 3, 2, 1, 1),        # 1  8x32x32, stride 2
        ("conv", [1], 8, 8, 3, 1, 1, 8),        # 2  depthwise
        ("conv", [2], 8, 16, 1, 1, 1, 1),       # 3
        ("maxpool", [3]),                        # 4  16x16x16, stride 4
        ("conv", [4], 16, 16, 3, 1, 1, 16),     # 5  depthwise
        ("maxpool", [5]),                        # 6  16x8x8, stride 8
        ("conv", [6], 16, 16, 1, 1, 1, 1),      # 7  stride 8 features
        ("maxpool", [7]),                        # 8  16x4x4
        ("conv", [8], 16, 32, 1, 1, 1, 16),     # 9  two outputs per channel
        ("conv", [9], 32, 32, 3, 1, 1, 32),     # 10 stride 16 features
        ("maxpool", [10]),                       # 11 32x2x2
        ("conv", [11], 32, 32, 3, 1, 1, 4),     # 12 four groups
        ("conv", [12], 32, 16, 1, 1, 1, 1),     # 13 stride 32 features
        ("upsample", [13]),                      # 14 16x4x4
        ("conv", [10], 32, 16, 1, 1, 1, 1),     # 15 lateral
        ("conv", [14, 15], 16, 16, 3, 1, 1, 16),  # 16 summed across scales: stride 16
        ("upsample", [16]),                      # 17 16x8x8
        ("conv", [17, 7], 16, 16, 3, 1, 1, 16),   # 18 stride 8
        ("conv", [3], 16, 8, 3, 2, 1, 8),       # 19 a strided grouped conv (unused: freed)
    ]
    outputs = []
    for stride, src in ((8, 18), (16, 16), (32, 13)):
        for head, oc, flags in (("cls", 1, 2), ("obj", 1, 2), ("bbox", 4, 0), ("kps", 10, 0)):
            nodes.append(("conv", [src], 16, oc, 1, 1, flags, 1))
            outputs.append((f"{head}_{stride}", len(nodes)))
    return model2("yunet-mini", 1, 64, 64, [], nodes, outputs, mean=0.0, std=1 / 255)


def recipe2(mode, c, h, w, alt_h, alt_w, nodes):
    """fuzz_model.c's build_recipe2: a header, then (op, arg, ext) per node."""
    return b"ENN2" + bytes([mode, c, h, w, alt_h, alt_w]) + b"".join(bytes(n) for n in nodes)


def models_v2():
    put("fuzz_model", "yunet-mini.enn", yunet_mini())
    put("fuzz_model", "v2-classifier.enn", model2("v2 classifier", 3, 12, 10, ["p", "q", "r"], [
        ("conv", [0], 3, 6, 3, 1, 1, 3),        # 1  two outputs per input channel
        ("conv", [1], 6, 6, 3, 2, 1, 6),        # 2  depthwise, stride 2: 6x6x5
        ("maxpool", [2]),                        # 3  6x3x2
        ("conv", [3], 6, 4, 1, 1, 2, 2),        # 4  sigmoid, two groups
        ("gap", [4]),                            # 5
        ("dense", [5], 4, 3, 0),                 # 6  the logits
    ], [("logits", 6), ("features", 4), ("pooled", 3)]))
    # version 2 recipes: see build_recipe2 in fuzz_model.c for the bytes
    put("fuzz_model", "recipe2-yunet", recipe2(0, 0, 30, 30, 64, 48, [
        (0, 31, 4),      # 1  conv 3x3 stride 2, 8 channels, ReLU
        (1, 12, 4),      # 2  depthwise 3x3
        (0, 60, 4),      # 3  1x1, 16 channels
        (2, 0, 0),       # 4  max pool
        (1, 12, 4),      # 5  depthwise
        (0, 60, 4),      # 6  1x1 (stride 16 features)
        (2, 0, 0),       # 7  max pool
        (1, 12, 4),      # 8  depthwise (stride 32)
        (3, 0, 0),       # 9  upsample
        (0, 60, 5),      # 10 1x1, summed with the lateral (value 6)
        (0x46, 0, 8),    # 11 head: 1 channel, sigmoid, an output
        (0x4E, 0, 8),    # 12 the same from value 10
        (0x56, 3, 0),    # 13 4 channels
        (0x5E, 5, 0),    # 14 10 channels
        (0x76, 0, 8),    # 15 from value 8
        (0xFE, 0, 8),    # 16 from value 8, listed twice
        (0x33, 0, 0),    # 17 upsample value 10
        (0, 60, 5),      # 18 1x1, summed with value 3
        (0x46, 0, 8),    # 19 head
        (0x01, 0x2B, 4),  # 20 grouped 3x3 stride 2
        (0x01, 0x14, 0),  # 21 two outputs per channel
    ]))
    put("fuzz_model", "recipe2-classifier", recipe2(1, 2, 13, 9, 0, 0, [
        (1, 0x15, 4),    # 1  grouped 3x3 (3 groups), two outputs per channel
        (1, 0x2A, 8),    # 2  groups a divisor of 6, stride 2, sigmoid
        (0x42, 0, 0),    # 3  max pool, an output after the logits
        (3, 0, 0),       # 4  upsample
        (0, 0x1D, 5),    # 5  conv 3x3, summed with a same-shape value
        (5, 9, 4),       # 6  (pool) dense, 10 outputs, ReLU
    ]))
    put("fuzz_model", "recipe2-tiny-sizes", recipe2(0, 1, 1, 3, 1, 1, [
        (0, 0x1F, 8),    # 1  conv 3x3 stride 2 on 3x5, sigmoid
        (3, 0, 0),       # 2  upsample
        (2, 0, 1),       # 3  max pool
        (0x41, 0x0C, 4),  # 4 depthwise, an output; re-planned at 1x1: max pool refuses
    ]))
    put("fuzz_model", "recipe2-wide", recipe2(0, 0xF8, 5, 6, 200, 255, [
        (1, 0x49, 4),    # 1  64 channels in, 16 groups, 3x3, 32 out
        (1, 0x0C, 4),    # 2  depthwise 3x3 (32 channels)
        (4, 0, 0),       # 3  global average pool: not fully convolutional
        (0x45, 5, 4),    # 4  dense, an output
    ]))


# ---- images -------------------------------------------------------------------------

def pattern(w, h, ch):
    y, x = np.mgrid[0:h, 0:w]
    g = (128 + 60 * np.where((x // 4 + y // 4) % 2, 1, -1) + (x + y) % 8).astype(np.uint8)
    if ch == 1:
        return g
    return np.dstack([g, (255 - g), np.uint8(x * 255 // max(w - 1, 1)) + 0 * g])


def jpeg(img, q=80, **opts):
    params = [cv2.IMWRITE_JPEG_QUALITY, q]
    for k, v in opts.items():
        params += [getattr(cv2, "IMWRITE_JPEG_" + k.upper()), v]
    ok, b = cv2.imencode(".jpg", img, params)
    assert ok
    return b.tobytes()


def png(img, **opts):
    params = []
    for k, v in opts.items():
        params += [getattr(cv2, "IMWRITE_PNG_" + k.upper()), v]
    ok, b = cv2.imencode(".png", img, params)
    assert ok
    return b.tobytes()


def strip_dht(d):
    """The JPEG without its DHT segments (as many UVC cameras send frames)."""
    o, p = bytearray(d[:2]), 2
    while p + 4 <= len(d) and d[p] == 0xFF and d[p + 1] != 0xDA:
        seg = 2 + (d[p + 2] << 8 | d[p + 3])
        if d[p + 1] != 0xC4:
            o += d[p:p + seg]
        p += seg
    return bytes(o + d[p:])


def with_exif_thumbnail(d, thumb):
    """An APP1 segment holding a whole JPEG (FFD8 ... FFD9) right after SOI."""
    body = b"Exif\0\0" + thumb
    return d[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + d[2:]


def images():
    gray = jpeg(pattern(24, 16, 1))
    put("fuzz_image", "gray.jpg", gray)
    put("fuzz_image", "color420.jpg", jpeg(pattern(20, 18, 3), 70))
    put("fuzz_image", "chroma.jpg", jpeg(pattern(9, 7, 3), 95, chroma_quality=30, optimize=1))
    put("fuzz_image", "progressive.jpg", jpeg(pattern(17, 13, 3), 60, progressive=1))
    put("fuzz_image", "restart.jpg", jpeg(pattern(32, 16, 1), 50, rst_interval=1))
    put("fuzz_image", "nodht.jpg", strip_dht(gray))
    put("fuzz_image", "gray.png", png(pattern(13, 11, 1)))
    put("fuzz_image", "color.png", png(pattern(12, 9, 3), compression=9))
    rgba = np.dstack([pattern(6, 5, 3), pattern(6, 5, 1)]).astype(np.uint16) * 257
    put("fuzz_image", "rgba16.png", png(rgba))
    put("fuzz_image", "bilevel.png", png((pattern(16, 4, 1) > 128).astype(np.uint8) * 255,
                                        bilevel=1))
    pgm = b"P5\n# a comment\n7 5\n255\n" + pattern(7, 5, 1).tobytes()
    put("fuzz_image", "gray.pgm", pgm)
    put("fuzz_image", "tight.pgm", b"P5 3 2 255 " + bytes(range(60, 66)))


def mjpeg():
    f1 = jpeg(pattern(16, 16, 1), 75)
    f2 = jpeg(pattern(24, 16, 3), 60)
    f3 = strip_dht(jpeg(pattern(16, 8, 3), 50))
    put("fuzz_mjpeg", "three.mjpeg", f1 + f2 + f3)
    put("fuzz_mjpeg", "junk.mjpeg", b"\x00\xff\x12junk" + f1 + b"\xff\xff\x00" + f3 + f1[:40])
    put("fuzz_mjpeg", "exif.mjpeg", with_exif_thumbnail(f2, jpeg(pattern(8, 8, 1), 40)) + f1)
    put("fuzz_mjpeg", "cut.mjpeg", f1[:len(f1) // 2] + f2 + f1[:-2] + f3)
    put("fuzz_mjpeg", "restart.mjpeg", jpeg(pattern(32, 16, 3), 50, rst_interval=2) +
        jpeg(pattern(16, 16, 1), 40, progressive=1))
    put("fuzz_mjpeg", "minimal.mjpeg", b"\xff\xd8\xff\xd9\xff\xd8\xff\x01\xff\xd0\xff\xd9")


# ---- config -------------------------------------------------------------------------

def config():
    shutil.copyfile(os.path.join(ROOT, "config", "emotiond.conf.example"),
                    os.path.join(OUT, "fuzz_config", "example.conf"))
    put("fuzz_config", "every-key.conf", b"""[daemon]
source = file:/tmp/clip.mjpeg
socket = /tmp/e.sock
socket_group = video
model = m.enn
log_level = debug
system_root = /tmp/root
max_clients = 3
max_clients_per_uid = 2
idle_timeout_s = 30.5
[capture]
width = 320
height = 240
fps = 15.5
jpeg_scale = 2
timeout_ms = 500
max_timeouts = 4
max_frame_width = 1920
max_frame_height = 1080
[detect]
backend = yunet
model = y.onnx
width = 160
min_face = 24
max_faces = 4
interval = 2
score_threshold = 0.5
nms_threshold = 0.4
[track]
min_iou = 0.25
max_absent_s = 2
half_life_s = 0
[classify]
workers = 2
crop_widen = 1.2
align_eyes = no
mirror = on
[telemetry]
interval_s = 0.5
[preview]
enabled = true
width = 640
fps = 0.5
quality = 90
[web]
bind = ::1
port = 9000
allowed_hosts = kiosk.lan, 10.0.0.7
web_root = /srv/page
max_clients = 8
max_clients_per_ip = 4
max_streams = 2
timeout_s = 5
log_level = debug
""")
    put("fuzz_config", "profiles.conf", b"""; profiles
[profile.MODE_15W]
model = /usr/share/emotiond/models/emotionnet-nano-b-fer.enn
detect_interval = 3
fps_cap = 15
workers = 1
[profile.MAXN]
workers = 0
[daemon]
max_clients=1024  ; inline comment
[profile.MODE_15W]
fps_cap = 7.5
""")
    put("fuzz_config", "errors.conf", b"[daemon]\nmax_clients = 0x10\n[nowhere]\nkey = v\n"
        b"[ profile.MODE_15W ]\nfps_cap = 7.5\n")
    put("fuzz_config", "crlf.conf", b"\xef\xbb\xbf[capture]\r\nfps = 1e1\r\nwidth = 16\r\n"
        b"[detect]\r\nmodel = a\r\n  continued\r\n")


# ---- protocol -----------------------------------------------------------------------

def protocol():
    put("fuzz_protocol", "subscribe", b'{"cmd":"subscribe","topics":["frame","telemetry"]}\n')
    put("fuzz_protocol", "status", b'{"cmd":"status"}\n')
    put("fuzz_protocol", "preview", b'{"cmd":"subscribe","topics":["preview","frame"]}\n'
        b'{"cmd":"subscribe","topics":["preview","previews"]}\n')
    put("fuzz_protocol", "session", b'{"cmd":"subscribe","topics":["frame"]}\n'
        b'{"cmd":"status"}\r\n{"cmd":"subscribe","topics":[]}\n  \n{"cmd":"status"}')
    put("fuzz_protocol", "errors", b'{"cmd":"subscibe"}\n[1,2]\n{"cmd":7}\n{bad json\n'
        b'{"cmd":"subscribe","topics":"frame"}\n{"cmd":"subscribe","topics":["x",null]}\n'
        b'{"cmd":"status","cmd":"status"}\n')
    put("fuzz_protocol", "flood", b'{"cmd":"status"}\n' * 24)
    put("fuzz_protocol", "long-line", b'{"cmd":"status","pad":"' + b"x" * 4100 + b'"}\n')
    put("fuzz_protocol", "utf8", '{"cmd":"caf\u00e9 \\u0000 \\ud800"}\n'.encode() + b"\xff\xfe\n")


# ---- YuNet frames ---------------------------------------------------------------------

def yunet_frame(w, h, pad, scale, threshold, max_faces, second=0, w2=0, h2=0, scale2=0,
                pixels=b""):
    """fuzz_yunet.c's input: a 12-byte header, then pixels (tiled over the frame)."""
    return struct.pack("<HHBBBBBBBB", w, h, pad, scale, threshold, max_faces, second, w2, h2,
                       scale2) + pixels


def yunet_frames():
    px = pattern(16, 16, 1).tobytes()
    gray = cv2.imread(os.path.join(ROOT, "samples", "astronaut.pgm"), cv2.IMREAD_GRAYSCALE)
    face = cv2.resize(gray[30:222, 128:320], (96, 96), interpolation=cv2.INTER_AREA)
    put("fuzz_yunet", "face", yunet_frame(96, 96, 0, 200, 150, 8, pixels=face.tobytes()))
    put("fuzz_yunet", "face-every-cell", yunet_frame(96, 96, 5, 200, 0, 39, 1, 31, 32, 200,
                                                     face.tobytes()))
    put("fuzz_yunet", "odd-sizes", yunet_frame(33, 31, 7, 200, 100, 10, 1, 32, 0, 252, px))
    put("fuzz_yunet", "one-pixel", yunet_frame(1, 1, 0, 200, 0, 39, 1, 0, 64, 254, px[:3]))
    put("fuzz_yunet", "wide", yunet_frame(2000, 2, 1, 10, 0, 20, pixels=px))
    put("fuzz_yunet", "tall-tiny-scale", yunet_frame(3, 2000, 0, 252, 50, 5, pixels=px))
    put("fuzz_yunet", "scale-zero", yunet_frame(64, 48, 0, 0, 150, 8, pixels=px))
    put("fuzz_yunet", "scale-over-one", yunet_frame(64, 48, 0, 230, 150, 8, pixels=px))
    put("fuzz_yunet", "scale-nan", yunet_frame(64, 48, 0, 250, 150, 8))
    put("fuzz_yunet", "zero-width", yunet_frame(0, 48, 0, 200, 150, 8))
    put("fuzz_yunet", "negative-height", yunet_frame(48, 0xFFF0, 0, 200, 150, 8))


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(os.path.join(OUT, "fuzz_config"))
    models(), images(), mjpeg(), config(), protocol(), yunet_frames()
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        total = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print(f"{t}: {len(files)} files, {total} bytes")
        if total > 200_000:
            sys.exit(f"{t}: seeds over 200 KB")


main()
