#!/usr/bin/python3
"""tools/train/quantize and the int8 half of tools/convert/enn_reference.py
(docs/model-format.md, "Int8 models"): a small random float model quantised with a
random calibration set gives a version 2.1 file that parses and whose int8 outputs stay
close to the float ones; the same inputs give the same bytes; the loader refuses each
kind of damaged int8 file (with the CRC fixed up, so the parser itself must notice); the
executor rounds half to even, in the input quantisation and the requantisation, on a
case built to land on ties; the PyTorch-accelerated executor gives the same bits as the
plain numpy one; the int8 fixture golden is what the executor gives; quantize without
the dataset folder fails with a message, not a traceback. Needs no dataset.
    /usr/bin/python3 tests/unit/test_quantize.py -v
"""
import importlib.util
import os
import struct
import subprocess
import sys
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "train"))
sys.path.insert(0, os.path.join(ROOT, "tools", "convert"))
import numpy as np  # noqa: E402

import enn_reference as ref  # noqa: E402
import int8  # noqa: E402

F32 = np.float32
FIXTURES = os.path.join(ROOT, "tests", "fixtures")


def conv(inputs, out, cin, k=3, stride=1, groups=1, relu=True, sigmoid=False, seed=0):
    """A float conv node with He-scaled random weights."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, np.sqrt(2 / (cin // groups * k * k)), (out, cin // groups, k, k))
    return {"op": ref.OP_CONV, "relu": relu, "sigmoid": sigmoid, "inputs": inputs,
            "out": out, "kernel": k, "stride": stride, "groups": groups,
            "w": w.astype(F32).astype(np.float64),
            "b": rng.normal(0, 0.1, out).astype(F32).astype(np.float64)}


def small_model():
    """Every int8 case in 16x16: summed conv inputs, a depthwise conv, a 1x1 conv
    without ReLU, summed max pool input, upsample, a multi-input global pool, a dense
    layer, and a sigmoid map output beside the logits."""
    op = lambda o, ins: {"op": o, "relu": False, "sigmoid": False, "inputs": ins}
    nodes = [
        conv([0], 6, 1, seed=1),                                  # 1: 6x16x16
        conv([1], 6, 6, groups=6, seed=2),                        # 2: depthwise
        conv([1, 2], 6, 6, k=1, relu=False, seed=3),              # 3: summed, linear
        op(ref.OP_MAXPOOL, [2, 3]),                               # 4: 6x8x8, summed
        conv([4], 6, 6, seed=4),                                  # 5
        op(ref.OP_UPSAMPLE, [5]),                                 # 6: 6x16x16
        conv([6, 3], 6, 6, stride=2, seed=5),                     # 7: 6x8x8
        op(ref.OP_GAP, [7, 5]),                                   # 8: [6]
        {**op(ref.OP_DENSE, [8]), "out": 3,                       # 9: logits
         "w": np.random.default_rng(6).normal(0, 0.5, (3, 6)).astype(F32).astype(float),
         "b": np.array([0.1, -0.2, 0.0])},
        conv([5], 1, 6, relu=False, sigmoid=True, seed=7),        # 10: a map output
    ]
    return {"version": (2, 1), "name": "small", "shape": (1, 16, 16), "mean": 0.5,
            "std": 0.25, "classes": ["anger", "fear", "surprise"], "nodes": nodes,
            "outputs": [("logits", 9), ("heat", 10)], "precision": 0}


def images(n, seed):
    """Smooth random images 0..255 (noise alone would make every map flat)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:16, 0:16] / 15.0
    out = np.empty((n, 1, 16, 16))
    for i in range(n):
        a = rng.normal(size=5)
        field = a[0] * xx + a[1] * yy + a[2] * np.sin(6 * xx + a[3]) * np.cos(5 * yy + a[4])
        out[i, 0] = 128 + 60 * field + rng.normal(0, 8, (16, 16))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def quantised(method=("max",), n=64):
    model = ref.load(int8.to_bytes(small_model()))
    calib = images(n, 1)
    ranges = int8.calibrate(model, int8.batches(calib, 16), n, method)
    return model, int8.quantise(model, ranges)


class RoundTripTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.float_model, cls.qdict = quantised(("max",))
        cls.data = int8.to_bytes(cls.qdict)
        cls.q = ref.load(cls.data)

    def test_parses_as_int8(self):
        q = self.q
        self.assertEqual(q["version"], (2, 1))
        self.assertEqual(q["precision"], ref.PRECISION_INT8)
        self.assertEqual(len(q["qparams"]), len(q["nodes"]) + 1)
        for k in (1, 2, 5, 7):
            self.assertEqual(q["nodes"][k - 1]["w"].dtype, np.int8)
            self.assertEqual(q["nodes"][k - 1]["b"].dtype, np.int32)
            self.assertEqual(q["qparams"][k][1], 0, "ReLU outputs get zero point 0")
        self.assertGreater(q["qparams"][3][1], 0, "a linear conv's range holds negatives")
        self.assertEqual(q["qparams"][4], q["nodes"][3]["qsum"])
        self.assertEqual(q["qparams"][6], q["qparams"][5])
        for v in (8, 9, 10):
            self.assertEqual(q["qparams"][v], (F32(1), 0))
        self.assertEqual(sum("qsum" in nd for nd in q["nodes"]), 3)   # nodes 3, 4, 7
        self.assertEqual(self.data, int8.to_bytes(q), "reading and writing changes nothing")

    def test_weights(self):
        """Per-output-channel symmetric weights: the largest |w| of a channel is 63 by
        default (7 bits, for the AVX2 kernels' int16 pairs), 127 with weight_bits=8."""
        model = ref.load(int8.to_bytes(small_model()))
        ranges = int8.calibrate(model, int8.batches(images(64, 1), 16), 64, ("max",))
        q8 = ref.load(int8.to_bytes(int8.quantise(model, ranges, weight_bits=8)))
        for q, top in ((self.q, 63), (q8, 127)):
            for k in (1, 2, 3, 5, 7, 10):
                w = q["nodes"][k - 1]["w"].reshape(q["nodes"][k - 1]["out"], -1)
                self.assertTrue((np.abs(w.astype(int)).max(axis=1) == top).all(), (k, top))
                fw = self.float_model["nodes"][k - 1]["w"].reshape(w.shape)
                ws = q["nodes"][k - 1]["w_scale"].astype(float)[:, None]
                self.assertLessEqual(np.abs(w * ws - fw).max(), ws.max() / 2 * 1.0001)

    def test_close_to_float(self):
        x = images(32, 2)
        f, q = ref.run_batch(self.float_model, x), ref.run_batch(self.q, x)
        spread = np.ptp(f["logits"])
        # a random 7-bit network, calibrated on 64 images: a few percent
        self.assertLess(np.abs(f["logits"] - q["logits"]).max(), 0.03 * spread)
        self.assertLess(np.abs(f["heat"] - q["heat"]).max(), 0.15)
        self.assertGreater((f["logits"].argmax(1) == q["logits"].argmax(1)).mean(), 0.9)
        self.assertEqual(q["logits"].dtype, np.float32)
        self.assertEqual(q["heat"].dtype, np.float32)
        self.assertEqual(q["heat"].shape, (32, 1, 8, 8))

    def test_deterministic(self):
        self.assertEqual(int8.to_bytes(quantised(("max",))[1]), self.data)
        self.assertEqual(int8.to_bytes(quantised(("percentile", 99.9))[1]),
                         int8.to_bytes(quantised(("percentile", 99.9))[1]))

    def test_methods(self):
        """max covers every calibration value; a percentile clips, so ranges shrink."""
        model = self.float_model
        calib = images(64, 1)
        rmax, rp = int8.calibrate(model, int8.batches(calib, 16), 64,
                                  [("max",), ("percentile", 99.0)])
        values = ref.run_float_batch(model, ref.normalise(model, calib), keep=True)
        self.assertEqual(rmax[("value", 1)], (values[1].min(), values[1].max()))
        self.assertLess(rp[("value", 1)][1], rmax[("value", 1)][1])
        flat = np.sort(values[1].ravel())
        rank = int(np.ceil(0.99 * flat.size))
        self.assertEqual(rp[("value", 1)], (flat[flat.size - rank], flat[rank - 1]))

    def test_input_scale_avoids_ties(self):
        """mean 0.5, std 0.25 puts black exactly on a tie at the plain scale 4 / 127."""
        s, z = int8.input_qparam(self.float_model)
        self.assertGreater(s, F32(4 / 127))
        t = (np.arange(256) / 255 - 0.5) / 0.25 * float(F32(1 / float(s)))
        self.assertGreater(np.abs(t - np.floor(t) - 0.5).min(), 1e-3)

    def test_torch_path_is_bit_exact(self):
        if importlib.util.find_spec("torch") is None:
            self.skipTest("no torch")
        x = images(8, 3)
        plain = ref.run_batch(self.q, x)
        ref.use_torch()
        try:
            fast = ref.run_batch(self.q, x)
        finally:
            ref.use_torch(False)
        for name in plain:
            self.assertTrue(np.array_equal(plain[name], fast[name]), name)


def refix(data):
    """The file with its header's length and CRC made to fit its payload."""
    p = data[16:]
    return data[:8] + struct.pack("<II", len(p), zlib.crc32(p) & 0xFFFFFFFF) + p


class DamageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.q = quantised()[1]

    def refuses(self, model, message):
        with self.assertRaisesRegex(ref.FormatError, message):
            ref.load(int8.to_bytes(model))

    def with_qparam(self, v, qp):
        qps = list(self.q["qparams"])
        qps[v] = qp
        return {**self.q, "qparams": qps}

    def with_node(self, k, **fields):
        nodes = list(self.q["nodes"])
        nodes[k - 1] = {**nodes[k - 1], **fields}
        return {**self.q, "nodes": nodes}

    def test_intact(self):
        ref.load(int8.to_bytes(self.q))

    def test_bad_scales(self):
        for s in (0.0, -0.5, float("nan"), float("inf")):
            self.refuses(self.with_qparam(2, (F32(s), 0)), "scale .* not finite and > 0")
            ws = self.q["nodes"][0]["w_scale"].copy()
            ws[3] = s
            self.refuses(self.with_node(1, w_scale=ws), "weight scale not finite and > 0")
            nodes = list(self.q["nodes"])
            self.refuses(self.with_node(3, qsum=(F32(s), 1)), "node 3 sum qparam")
            del nodes

    def test_zero_point_128(self):
        self.refuses(self.with_qparam(3, (F32(0.1), 128)), "zero point 128 not in 0..127")

    def test_int8_minus_128(self):
        w = self.q["nodes"][4]["w"].copy()
        w.flat[7] = -128
        self.refuses(self.with_node(5, w=w), "node 5 weights: int8 weight -128")

    def test_wrong_counts(self):
        w = self.q["nodes"][0]["w"].ravel()[:-1]
        self.refuses(self.with_node(1, w=w), "node 1 weights: tensor holds 53 values")
        b = np.append(self.q["nodes"][0]["b"], np.int32(1))
        self.refuses(self.with_node(1, b=b), "node 1 bias: tensor holds 7 values")
        # one qparam too few: the sum qparams then run past the end
        self.refuses({**self.q, "qparams": self.q["qparams"][:-1]}, "truncated file")
        data = int8.to_bytes(self.q)
        with self.assertRaisesRegex(ref.FormatError, "1 bytes left over"):
            ref.load(refix(data + b"\0"))

    def test_truncated(self):
        data = int8.to_bytes(self.q)
        for cut in range(len(data) - 1, len(data) - 60, -1):
            with self.assertRaisesRegex(ref.FormatError, "truncated|left over|not in|scale"):
                ref.load(refix(data[:cut]))
        with self.assertRaisesRegex(ref.FormatError, "payload length"):
            ref.load(data[:-1])

    def test_vector_and_output_qparams(self):
        self.refuses(self.with_qparam(8, (F32(0.5), 0)), "value 8 \\(vector\\)")
        self.refuses(self.with_qparam(10, (F32(1), 3)), "value 10 \\(map output\\)")

    def test_pool_and_upsample_qparams(self):
        s, z = self.q["qparams"][4]
        self.refuses(self.with_qparam(4, (F32(s * 2), z)), "node 4: max pool/upsample")
        s, z = self.q["qparams"][6]
        self.refuses(self.with_qparam(6, (s, (z + 1) % 128)), "node 6: max pool/upsample")

    def test_map_output_read(self):
        model = {**self.q, "outputs": self.q["outputs"] + [("mid", 5)]}
        model = self.with_qparam(5, (F32(1), 0)) | {"outputs": model["outputs"]}
        self.refuses(model, "node 6: reads map output 5")

    def test_dtypes(self):
        nodes = self.q["nodes"]
        self.refuses(self.with_node(1, b=nodes[0]["b"].astype(np.float64)),
                     "node 1: an int8 model's conv needs int8 weights")
        f = {k: v for k, v in nodes[0].items() if k != "w_scale"}
        f["w"] = f["w"].astype(np.float64)
        nodes2 = list(nodes)
        nodes2[0] = f
        self.refuses({**self.q, "nodes": nodes2}, "node 1: an int8 model's conv needs")
        # an int8 tensor in a float model
        fl = {**self.q, "precision": 0}
        self.refuses(fl, "int8/int32 tensor in a float model")
        self.refuses({**self.q, "outputs": self.q["outputs"][:1]},
                     "node 10: sigmoid on a quantised map")
        with self.assertRaisesRegex(ref.FormatError, "precision 2"):
            ref.load(int8.to_bytes({**self.q, "precision": 2}))


class RoundingTest(unittest.TestCase):
    """A 1x2x2 input, a 1x1 conv to two channels and a global pool, with every value
    chosen to land on a rounding tie: round half to even gives 0.5 -> 0, 1.5 -> 2,
    2.5 -> 2, -2.5 -> -2 (half away from zero would give 1, 2, 3, -3)."""

    def model(self):
        conv_node = {"op": ref.OP_CONV, "relu": False, "sigmoid": False, "inputs": [0],
                     "out": 2, "kernel": 1, "stride": 1, "groups": 1,
                     "w": np.array([1, -1], np.int8).reshape(2, 1, 1, 1),
                     "w_scale": np.array([1.0, 1.0], F32), "b": np.array([1, 0], np.int32)}
        gap = {"op": ref.OP_GAP, "relu": False, "sigmoid": False, "inputs": [1]}
        return {"version": (2, 1), "name": "ties", "shape": (1, 2, 2), "mean": 0.0,
                "std": 1.0, "classes": [], "nodes": [conv_node, gap],
                "outputs": [("pooled", 2)], "precision": 1,
                "qparams": [(F32(1), 0), (F32(2), 10), (F32(1), 0)]}

    def test_half_even(self):
        m = ref.load(int8.to_bytes(self.model()))
        x = np.array([0.5, 1.5, 2.5, 5.0], F32).reshape(1, 1, 2, 2)
        values = ref.run_int8_batch(m, x, keep=True)
        self.assertEqual(values[0].ravel().tolist(), [0, 2, 2, 5])
        # acc = [1, 3, 3, 6] and [0, -2, -2, -5]; times m = 1 * 1 / 2:
        # [0.5, 1.5, 1.5, 3] -> [0, 2, 2, 3]; [0, -1, -1, -2.5] -> [0, -1, -1, -2]; + 10
        self.assertEqual(values[1][0, 0].ravel().tolist(), [10, 12, 12, 13])
        self.assertEqual(values[1][0, 1].ravel().tolist(), [10, 9, 9, 8])
        # pool: float(sum(q - 10)) * float(2 / 4)
        self.assertEqual(values[2][0].tolist(), [3.5, -2.0])

    def test_summed_input_ties(self):
        """An upsample of two summed inputs, x and conv(x) = x + 1, each of scale 1, into
        a sum of scale 2: t = 0.5 q + 0.5 (q + 1) = q + 0.5, always a tie."""
        conv_node = {"op": ref.OP_CONV, "relu": False, "sigmoid": False, "inputs": [0],
                     "out": 1, "kernel": 1, "stride": 1, "groups": 1,
                     "w": np.ones((1, 1, 1, 1), np.int8), "w_scale": np.ones(1, F32),
                     "b": np.array([1], np.int32)}
        up = {"op": ref.OP_UPSAMPLE, "relu": False, "sigmoid": False, "inputs": [0, 1],
              "qsum": (F32(2), 0)}
        gap = {"op": ref.OP_GAP, "relu": False, "sigmoid": False, "inputs": [2]}
        m = {**self.model(), "nodes": [conv_node, up, gap], "outputs": [("pooled", 3)],
             "qparams": [(F32(1), 0), (F32(1), 0), (F32(2), 0), (F32(1), 0)]}
        m = ref.load(int8.to_bytes(m))
        x = np.array([0.0, 1.0, 2.0, 3.0], F32).reshape(1, 1, 2, 2)
        values = ref.run_int8_batch(m, x, keep=True)
        self.assertEqual(values[1].ravel().tolist(), [1, 2, 3, 4])
        # 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, 3.5 -> 4
        self.assertEqual(values[2][0, 0, ::2, ::2].ravel().tolist(), [0, 2, 2, 4])


class FixtureTest(unittest.TestCase):
    def test_golden_is_the_executors(self):
        """tests/fixtures/nano-b-quick-int8.golden: the executor's logits, to the bit."""
        path = os.path.join(FIXTURES, "nano-b-quick-int8.golden")
        m = ref.load(os.path.join(FIXTURES, "nano-b-quick-int8.enn"))
        with open(path, "rb") as f:
            data = f.read()
        n, size, classes = struct.unpack_from("<III", data)
        rec = np.frombuffer(data, "<f4", offset=12).reshape(n, size + classes)
        x = rec[:, :size].reshape(n, 1, 48, 48)
        got = ref.run_int8_batch(m, x)["logits"]
        self.assertTrue(np.array_equal(got, rec[:, size:]))


class CommandTest(unittest.TestCase):
    def test_no_dataset(self):
        r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "train", "quantize"),
                            os.path.join(FIXTURES, "nano-b-quick.enn"), "-o", os.devnull,
                            "--calib", "fer2013", "--data", "/nonexistent/shared/data"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("dataset folder /nonexistent/shared/data is absent", r.stderr)
        self.assertNotIn("Traceback", r.stderr)


if __name__ == "__main__":
    unittest.main()
