"""Post-training int8 quantisation of float .enn models into version 2.1 int8 models
(docs/model-format.md, "Int8 models"). The command is tools/train/quantize; this module
holds the parts the tests drive directly:

    ranges = calibrate(model, batches, total, method=("percentile", 99.99))
    qmodel = quantise(model, ranges)
    data = to_bytes(qmodel)           # a version 2.1 file, CRC included

Calibration runs the float model (tools/convert/enn_reference.py, float64) on images and
records each quantised value's range: every conv output that is not a named output, and
the element-wise sum feeding each conv, max pool or upsample node with several inputs.
Max pool and upsample outputs take their input's parameters (the format requires it);
vectors and map outputs are float and get (1, 0). The network input's range is not
measured: it is the whole range the normalisation can give for pixels 0..255.

Pure numpy (no torch), so that the C engine's tests can build int8 fixtures anywhere.
"""
import os
import struct
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "convert"))
import enn_reference as ref  # noqa: E402

QMAX = 127              # 7-bit maps: q in 0..127
WMAX = 127              # symmetric int8 weights: -127..127 (--weight-bits 8)
WMAX_7BIT = 63          # the default: x86 kernels then add two steps in int16
                        # (enn_qgroups_fit in engine/kernels.h)
F32 = np.float32


# ---- calibration ------------------------------------------------------------------------

class MaxRange:
    """Smallest and largest value seen."""

    def __init__(self, total):
        self.lo, self.hi = np.inf, -np.inf

    def add(self, a):
        self.lo = min(self.lo, float(a.min()))
        self.hi = max(self.hi, float(a.max()))

    def range(self):
        return self.lo, self.hi


class PercentileRange:
    """Nearest-rank percentiles P and 100 - P over `total` values seen in batches,
    exactly: only the k largest and k smallest values are kept, k = the number of
    values at or beyond the percentile's rank, so memory stays small for P near 100."""

    def __init__(self, total, p):
        self.total = total
        rank = int(np.ceil(p / 100.0 * total))          # 1-based rank of the P-th value
        self.k = max(total - rank + 1, 1)
        self.top = np.empty(0)
        self.bottom = np.empty(0)                       # held negated
        self.seen = 0

    def _keep(self, kept, a):
        if kept.size == self.k:
            a = a[a > kept.min()]
        merged = np.concatenate([kept, a])
        if merged.size > self.k:
            merged = np.partition(merged, merged.size - self.k)[merged.size - self.k:]
        return merged

    def add(self, a):
        a = np.asarray(a, np.float64).ravel()
        self.seen += a.size
        self.top = self._keep(self.top, a)
        self.bottom = self._keep(self.bottom, -a)

    def range(self):
        if self.seen != self.total:
            raise ValueError(f"percentile over {self.seen} values, {self.total} expected")
        return -self.bottom.min(), self.top.min()


def _stat(method, total):
    if method[0] == "max":
        return MaxRange(total)
    return PercentileRange(total, float(method[1]))


def calibrated_values(model):
    """{key: description} of what calibration measures: ("value", k) for a conv output
    that is a quantised map, ("sum", k) for node k's summed input."""
    outputs = {vid for _, vid in model["outputs"]}
    keys = []
    for k, node in enumerate(model["nodes"], start=1):
        if node["op"] in ref.MAP_OPS and len(node["inputs"]) > 1:
            keys.append(("sum", k))
        if node["op"] == ref.OP_CONV and k not in outputs:
            keys.append(("value", k))
    return keys


def calibrate(model, batches, total, method=("max",)):
    """Runs the float model on `batches` (an iterable of pixel arrays [n][c][h][w],
    0..255; `total` images in all) and returns {key: (lo, hi)} for the keys of
    calibrated_values(). method: ("max",) or ("percentile", P); or a list of methods,
    for a list of results from one pass over the images."""
    many = isinstance(method, list)
    methods = method if many else [method]
    if model["precision"] != ref.PRECISION_F32:
        raise ValueError("calibrate needs a float model")
    keys = calibrated_values(model)
    stats, seen = {}, 0
    for pixels in batches:
        pixels = np.asarray(pixels, np.float64)
        values = ref.run_float_batch(model, ref.normalise(model, pixels), keep=True)
        for key in keys:
            kind, k = key
            if kind == "value":
                v = values[k]
            else:
                ins = model["nodes"][k - 1]["inputs"]
                v = values[ins[0]]
                for i in ins[1:]:
                    v = v + values[i]
            for j, m in enumerate(methods):
                if (j, key) not in stats:
                    stats[j, key] = _stat(m, total * v[0].size)
                stats[j, key].add(v)
        seen += len(pixels)
    if seen != total:
        raise ValueError(f"calibrated on {seen} images, {total} announced")
    out = [{key: stats[j, key].range() for key in keys} for j in range(len(methods))]
    return out if many else out[0]


# ---- parameters -------------------------------------------------------------------------

def qparam_for(lo, hi, relu):
    """(scale, zero point) covering [lo, hi] with q in 0..127. ReLU outputs get zero
    point 0 (their range starts at 0); otherwise the range is widened to hold 0, so
    that 0 (the padding) is exact, and the zero point is rounded."""
    lo, hi = (0.0, max(hi, 0.0)) if relu else (min(lo, 0.0), max(hi, 0.0))
    if not hi - lo > 0:                     # a value that is always 0
        return F32(1.0 / QMAX), 0
    scale = F32((hi - lo) / QMAX)
    zero = 0 if relu else int(np.clip(np.rint(-lo / np.float64(scale)), 0, QMAX))
    return scale, zero


def input_qparam(model, margin=1e-3):
    """The input's (scale, zero point), covering all that pixels 0..255 can give. The
    scale is widened in steps of 1/1024 until no pixel value's x / scale lies within
    `margin` of a rounding tie (ties-to-even and a last-bit difference in how an engine
    computes the float input would otherwise give different q for that pixel: with
    mean 0.5, std 0.25, black lands exactly on -63.5)."""
    mean, std = np.float64(model["mean"]), np.float64(model["std"])
    lo, hi = (0.0 - mean) / std, (1.0 - mean) / std
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    x = (np.arange(256) / 255.0 - mean) / std
    widen = 1.0
    for _ in range(64):
        scale = F32((hi - lo) / QMAX * widen)
        zero = int(np.clip(np.rint(-lo / np.float64(scale)), 0, QMAX))
        t = x * np.float64(F32(1.0 / np.float64(scale)))
        live = (t > -zero - 0.5 - margin) & (t < QMAX - zero + 0.5 + margin)
        if (np.abs(t[live] - np.floor(t[live]) - 0.5) > margin).all():
            return scale, zero
        widen *= 1 + 1 / 1024
    raise ValueError("no input scale keeps pixels away from rounding ties")


def quantise_weights(w, b, s_in, qw=WMAX_7BIT):
    """Per-output-channel symmetric int8 weights in -qw..qw (scale = max|w| / qw) and
    int32 biases in units of s_in * s_w[o]. A channel of zero weights gets scale 1 (any
    would do); a scale is raised when the bias would not leave int32 room for the
    products."""
    out = w.shape[0]
    wmax = np.abs(w.reshape(out, -1)).max(axis=1)
    s_w = np.where(wmax > 0, wmax / qw, 1.0).astype(F32)
    per = w.reshape(out, -1).shape[1]
    limit = 2**31 - 1 - per * WMAX * QMAX                 # room left for the bias
    need = np.abs(b) / (np.float64(s_in) * limit)
    s_w = np.maximum(s_w, F32(need * 1.001)).astype(F32)  # only ever for huge biases
    wq = np.rint(w / s_w.astype(np.float64)[:, None, None, None])
    wq = np.clip(wq, -qw, qw).astype(np.int8)
    bq = np.rint(b / (np.float64(s_in) * s_w.astype(np.float64)))
    if np.abs(bq).max(initial=0) > limit:
        raise ValueError("bias does not fit int32")
    return wq, s_w, bq.astype(np.int32)


def quantise(model, ranges, input_q=None, weight_bits=7):
    """The int8 model (a dict as enn_reference.load returns) of float model `model` for
    the calibrated ranges. input_q: the input's (scale, zero point), by default
    input_qparam(model). weight_bits 7 keeps weights in -63..63 (faster on x86 AVX2,
    measured in docs/results.md), 8 uses -127..127."""
    qw = {7: WMAX_7BIT, 8: WMAX}[weight_bits]
    nodes = model["nodes"]
    map_outputs = {vid for _, vid in model["outputs"] if nodes[vid - 1]["op"] in ref.MAP_OPS}
    qp = [input_q or input_qparam(model)]
    qnodes = []
    for k, node in enumerate(nodes, start=1):
        node = dict(node)
        op, ins = node["op"], node["inputs"]
        if op in ref.MAP_OPS and len(ins) > 1:
            node["qsum"] = qparam_for(*ranges[("sum", k)], relu=False)
            s_in = node["qsum"][0]
        elif op in ref.MAP_OPS:
            s_in = qp[ins[0]][0]
        if op == ref.OP_CONV:
            node["w"], node["w_scale"], node["b"] = quantise_weights(node["w"], node["b"],
                                                                   s_in, qw)
            if k in map_outputs:
                qp.append((F32(1), 0))
            else:
                lo, hi = ranges[("value", k)]
                qp.append(qparam_for(lo, hi, relu=node["relu"] or node["sigmoid"]))
        elif op in (ref.OP_MAXPOOL, ref.OP_UPSAMPLE):
            qp.append(node.get("qsum", qp[ins[0]]))
        else:
            qp.append((F32(1), 0))
        qnodes.append(node)
    return {**model, "version": (2, 1), "precision": ref.PRECISION_INT8, "nodes": qnodes,
            "qparams": qp}


# ---- writer -----------------------------------------------------------------------------

def _str(s):
    b = s.encode("ascii")
    return struct.pack("<H", len(b)) + b


def _f32(a):
    a = np.ascontiguousarray(a, "<f4").ravel()
    return struct.pack("<BxxxI", ref.DTYPE_F32, a.size) + a.tobytes()


def _conv_weights(node):
    if "w_scale" not in node:
        return _f32(node["w"])
    q = np.ascontiguousarray(node["w"], np.int8).ravel()
    return (struct.pack("<BxxxI", ref.DTYPE_INT8, q.size) +
            np.ascontiguousarray(node["w_scale"], "<f4").tobytes() + q.tobytes())


def _bias(b):
    if b.dtype == np.int32:
        return struct.pack("<BxxxI", ref.DTYPE_INT32, b.size) + b.astype("<i4").tobytes()
    return _f32(b)


def to_bytes(model):
    """A version 2.1 .enn file of `model` (float or int8), CRC included. Writes what it
    is given without checking it: the tests damage models through it."""
    p = _str(model["name"]) + struct.pack("<HHHff", *model["shape"], model["mean"],
                                          model["std"])
    p += struct.pack("<H", len(model["classes"])) + b"".join(_str(c) for c in model["classes"])
    p += struct.pack("<H", len(model["nodes"]))
    for node in model["nodes"]:
        flags = (1 if node["relu"] else 0) | (2 if node["sigmoid"] else 0)
        ins = node["inputs"]
        p += struct.pack(f"<BBH{len(ins)}H", node["op"], flags, len(ins), *ins)
        if node["op"] == ref.OP_CONV:
            p += struct.pack("<HBBH", node["out"], node["kernel"], node["stride"],
                             node["groups"])
            p += _conv_weights(node) + _bias(node["b"])
        elif node["op"] == ref.OP_MAXPOOL:
            p += struct.pack("<BB", 2, 2)
        elif node["op"] == ref.OP_UPSAMPLE:
            p += struct.pack("<B", 2)
        elif node["op"] == ref.OP_DENSE:
            p += struct.pack("<H", node["out"]) + _f32(node["w"]) + _bias(node["b"])
    p += struct.pack("<H", len(model["outputs"]))
    for name, vid in model["outputs"]:
        p += _str(name) + struct.pack("<H", vid)
    p += struct.pack("<B", model["precision"])
    if model["precision"] == ref.PRECISION_INT8:
        for s, z in model["qparams"]:
            p += struct.pack("<fB", s, z)
        for node in model["nodes"]:
            if "qsum" in node:
                p += struct.pack("<fB", *node["qsum"])
    return b"ENNM" + struct.pack("<HHII", 2, 1, len(p), zlib.crc32(p) & 0xFFFFFFFF) + p


# ---- calibration images -----------------------------------------------------------------

def sample(n_available, n, seed):
    """n distinct indices of 0..n_available-1, sorted, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_available, size=min(n, n_available), replace=False))


def face_canvases(faces, n, seed, size=320):
    """n gray size x size canvases, each a blurred, enlarged face as background with one
    to four faces pasted on it at random positions and sizes (24 px to the canvas):
    what a detector sees, made from 48x48 face crops. Returns uint8 [n][1][size][size]."""
    import cv2
    rng = np.random.default_rng(seed)
    out = np.empty((n, 1, size, size), np.uint8)
    for i in range(n):
        bg = faces[rng.integers(len(faces))]
        canvas = cv2.resize(bg, (size, size), interpolation=cv2.INTER_LINEAR)
        canvas = cv2.GaussianBlur(canvas, (0, 0), float(rng.uniform(2, 12)))
        for _ in range(int(rng.integers(1, 5))):
            side = int(np.exp(rng.uniform(np.log(24), np.log(size))))
            y, x = rng.integers(0, size - side + 1, size=2)
            face = cv2.resize(faces[rng.integers(len(faces))], (side, side),
                              interpolation=cv2.INTER_AREA if side < 48 else cv2.INTER_LINEAR)
            canvas[y:y + side, x:x + side] = face
        out[i, 0] = canvas
    return out


def batches(images, size):
    for i in range(0, len(images), size):
        yield images[i:i + size]
