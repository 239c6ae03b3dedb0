#!/usr/bin/python3
"""tools/convert/onnx2enn: ONNX -> .enn 2.0. The converted YuNet face detector, run by a
numpy executor written from docs/model-format.md (tools/convert/enn_reference.py), must
give the ONNX model's 12 outputs (OpenCV DNN) on real gray photos; the shipped
models/face_detection_yunet_2023mar.enn must be what converting again writes; graphs the
format cannot express fail with a message naming the ONNX node, exit status 1.

Needs Debian's python3 (onnx, numpy, cv2). The YuNet tests need ../shared/data (the
ONNX file and the photos) and are skipped, saying which path is missing, without it.
    /usr/bin/python3 tests/unit/test_onnx2enn.py -v
"""
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
CONVERT = os.path.join(ROOT, "tools", "convert")
sys.path.insert(0, CONVERT)
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

import enn_reference  # noqa: E402
import onnx_import  # noqa: E402

DATA = os.environ.get("EMOTIOND_DATA", os.path.join(ROOT, "..", "shared", "data"))
YUNET_ONNX = os.path.join(DATA, "models", "face_detection_yunet_2023mar.onnx")
FACES = os.path.join(DATA, "faces")
SHIPPED = os.path.join(ROOT, "models", "face_detection_yunet_2023mar.enn")
SCRIPT = os.path.join(CONVERT, "onnx2enn")
YUNET_OUTPUTS = [f"{k}_{s}" for k in ("cls", "obj", "bbox", "kps") for s in (8, 16, 32)]
TOLERANCE = 1e-3


def need(path):
    if not os.path.exists(path):
        raise unittest.SkipTest(f"{os.path.normpath(path)} is absent (the shared data "
                                "folder beside the checkout, or EMOTIOND_DATA)")


def opencv_outputs(onnx_path_or_bytes, blob, names):
    net = cv2.dnn.readNetFromONNX(onnx_path_or_bytes)
    net.setInput(blob.astype(np.float32))
    return dict(zip(names, net.forward(names)))


def as_onnx_layout(x):
    """Engine output [channels][rows][cols] -> ONNX [rows * cols][channels]."""
    return x.reshape(x.shape[0], -1).T


def max_differences(onnx_outs, enn_outs):
    return {n: float(np.abs(onnx_outs[n][0] - as_onnx_layout(enn_outs[n])).max())
            for n in onnx_outs}


def gray_photo(name, size):
    """A photo from ../shared/data/faces as gray 0..255, scaled to fit size = (W, H)
    keeping its aspect and padded with black at the right and bottom (as a detector's
    caller pads a frame to a multiple of 32)."""
    img = cv2.imread(os.path.join(FACES, name), cv2.IMREAD_GRAYSCALE)
    w, h = size
    f = min(w / img.shape[1], h / img.shape[0])
    sw, sh = round(img.shape[1] * f), round(img.shape[0] * f)
    small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
    out = np.zeros((h, w), np.uint8)
    out[:sh, :sw] = small
    return out.astype(np.float32)


# ---- small ONNX graphs built here ----------------------------------------------------

def conv(name, x, out, w, k=3, stride=1, group=1, dil=1, pads=None, bias=True):
    p = k // 2 if pads is None else pads
    ins = [x, f"{name}_w"] + ([f"{name}_b"] if bias else [])
    node = helper.make_node("Conv", ins, [out], name=name, kernel_shape=[k, k],
                            strides=[stride, stride], group=group, dilations=[dil, dil],
                            pads=[p, p, p, p])
    return node, [numpy_helper.from_array(w.astype(np.float32), f"{name}_w")] + (
        [numpy_helper.from_array(np.linspace(-0.2, 0.2, w.shape[0]).astype(np.float32),
                                 f"{name}_b")] if bias else [])


def make_model(nodes, inits, outputs, in_ch=3, opset=11):
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                   [1, in_ch, "height", "width"])],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1, "anchors", "values"])
         for o in outputs], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 6
    return m


def small_detector(seed=3):
    """Every construct YuNet uses: conv (plain, stride 2, depthwise, grouped, 1x1), relu,
    max pool, nearest resize x2 with scales from an initializer and from a Constant, an
    Add of a skip and an upsampled path, and output tails Transpose + Reshape (+ Sigmoid).
    """
    rng = np.random.default_rng(seed)
    r = lambda *s: rng.normal(0, 0.3, s)  # noqa: E731
    nodes, inits = [], []

    def add(pair):
        nodes.append(pair[0])
        inits.extend(pair[1])

    add(conv("c0", "input", "c0o", r(8, 3, 3, 3) / 40, stride=2))
    nodes.append(helper.make_node("Relu", ["c0o"], ["r0"], name="relu0"))
    add(conv("dw", "r0", "dwo", r(8, 1, 3, 3), group=8))
    nodes.append(helper.make_node("Relu", ["dwo"], ["r1"], name="relu1"))
    nodes.append(helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1",
                                  kernel_shape=[2, 2], strides=[2, 2]))
    add(conv("pw", "p1", "pwo", r(8, 8, 1, 1), k=1))
    nodes.append(helper.make_node("Relu", ["pwo"], ["r2"], name="relu2"))
    nodes.append(helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2",
                                  kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0],
                                  ceil_mode=0))
    add(conv("deep", "p2", "deepo", r(8, 8, 3, 3)))
    inits.append(numpy_helper.from_array(np.zeros(0, np.float32), "roi"))
    inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
    nodes.append(helper.make_node(
        "Constant", [], ["scales_c"], name="scales_const",
        value=numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32))))
    resize_attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                        nearest_mode="floor")
    nodes.append(helper.make_node("Resize", ["deepo", "roi", "scales"], ["up1"],
                                  name="up1", **resize_attrs))
    nodes.append(helper.make_node("Add", ["r2", "up1"], ["sum1"], name="add1"))
    nodes.append(helper.make_node("Resize", ["sum1", "roi", "scales_c"], ["up2"],
                                  name="up2", **resize_attrs))
    nodes.append(helper.make_node("Add", ["up2", "r1"], ["sum2"], name="add2"))
    add(conv("gbox", "sum2", "gboxo", r(4, 4, 3, 3), group=2))
    add(conv("score", "sum2", "scoreo", r(1, 8, 1, 1), k=1))
    add(conv("deephead", "deepo", "dho", r(2, 8, 3, 3), bias=False))
    shape = lambda n, c: numpy_helper.from_array(np.array([1, -1, c], np.int64), n)  # noqa
    inits += [shape("shape4", 4), shape("shape1", 1), shape("shape2", 2)]
    for src, tag, shp in (("gboxo", "box", "shape4"), ("scoreo", "score", "shape1"),
                          ("dho", "deep", "shape2")):
        nodes.append(helper.make_node("Transpose", [src], [f"{tag}_t"], name=f"T_{tag}",
                                      perm=[0, 2, 3, 1]))
        final = tag if tag != "score" else "score_r"
        nodes.append(helper.make_node("Reshape", [f"{tag}_t", shp], [final],
                                      name=f"R_{tag}"))
    nodes.append(helper.make_node("Sigmoid", ["score_r"], ["score"], name="S_score"))
    return make_model(nodes, inits, ["score", "box", "deep"])


def single_op_model(node, extra_inits=(), first=None):
    """input -> conv c0 -> relu -> NODE (reading 'x') -> conv head -> output 'out'."""
    nodes, inits = [], list(extra_inits)
    c, i = conv("c0", "input", "c0o", np.full((4, 3, 3, 3), 0.01))
    nodes.append(c)
    inits += i
    nodes.append(helper.make_node("Relu", ["c0o"], ["x"], name="relu0"))
    nodes.append(node)
    c, i = conv("head", node.output[0], "out", np.full((2, 4, 1, 1), 0.1), k=1)
    nodes.append(c)
    inits += i
    return make_model(nodes, inits, ["out"])


class ReferenceExecutorTest(unittest.TestCase):
    def test_detects_damage(self):
        m = onnx_import.convert(small_detector(), "small").data
        enn_reference.load(m)
        bad = bytearray(m)
        bad[100] ^= 1
        with self.assertRaisesRegex(enn_reference.FormatError, "checksum"):
            enn_reference.load(bytes(bad))
        with self.assertRaisesRegex(enn_reference.FormatError, "length"):
            enn_reference.load(m[:-1])
        with self.assertRaisesRegex(enn_reference.FormatError, "magic"):
            enn_reference.load(b"ENNX" + m[4:])

    def test_header_and_outputs(self):
        r = onnx_import.convert(small_detector(), "small", size=(96, 64))
        m = enn_reference.load(r.data)
        self.assertEqual(m["version"], (2, 0))
        self.assertEqual(m["shape"], (1, 64, 96))
        self.assertEqual(m["classes"], [])
        self.assertEqual(m["mean"], 0.0)
        self.assertAlmostEqual(m["std"], 1 / 255, places=9)
        self.assertEqual([o for o, _ in m["outputs"]], ["score", "box", "deep"])
        ops = [n["op"] for n in m["nodes"]]
        self.assertEqual(ops.count(4), 2)
        self.assertEqual(ops.count(5), 2)
        for k, n in enumerate(m["nodes"], start=1):
            self.assertTrue(all(i < k for i in n["inputs"]))
        # the Adds became nodes reading two values; the sigmoid sits on the score conv
        self.assertEqual(sorted(len(n["inputs"]) for n in m["nodes"])[-3:], [2, 2, 2])
        score = m["nodes"][dict(m["outputs"])["score"] - 1]
        self.assertTrue(score["sigmoid"] and not score["relu"])


class SmallGraphTest(unittest.TestCase):
    """The converted small detector against OpenCV DNN running the ONNX graph."""

    def check(self, gray, size):
        model = small_detector()
        r = onnx_import.convert(model, "small", gray=gray)
        m = enn_reference.load(r.data)
        rng = np.random.default_rng(11)
        w, h = size
        if gray:
            pix = rng.integers(0, 256, (1, h, w)).astype(np.float32)
            blob = np.repeat(pix[None], 3, axis=1)
        else:
            pix = rng.integers(0, 256, (3, h, w)).astype(np.float32)
            blob = pix[None]
        ref = enn_reference.run(m, pix)
        cv = opencv_outputs(model.SerializeToString(), blob, ["score", "box", "deep"])
        for n, d in max_differences(cv, ref).items():
            self.assertLess(d, 1e-4, f"{n} at {w}x{h}, gray={gray}")
        self.assertGreater(float(np.abs(cv["box"]).max()), 0.01)   # not all zeros

    def test_gray_fold(self):
        self.check(True, (96, 64))
        self.check(True, (32, 128))

    def test_three_channels(self):
        self.check(False, (64, 64))


class ErrorTest(unittest.TestCase):
    def assertFails(self, model, pattern, **kw):
        with self.assertRaisesRegex(onnx_import.ConversionError, pattern):
            onnx_import.convert(model, "t", **kw)

    def test_dilation(self):
        c, i = conv("Conv_dil", "x", "y", np.ones((4, 4, 3, 3)), dil=2, pads=2)
        self.assertFails(single_op_model(c, i), r"node 'Conv_dil' \(Conv\): dilations")

    def test_unsupported_op(self):
        n = helper.make_node("Softmax", ["x"], ["y"], name="Softmax_7", axis=1)
        self.assertFails(single_op_model(n), r"node 'Softmax_7' \(Softmax\): unsupported op")

    def test_conv_out_of_range(self):
        c, i = conv("Conv_k5", "x", "y", np.ones((4, 4, 5, 5)), k=5)
        self.assertFails(single_op_model(c, i), r"'Conv_k5'.*kernel")
        c, i = conv("Conv_pad0", "x", "y", np.ones((4, 4, 3, 3)), pads=0)
        self.assertFails(single_op_model(c, i), r"'Conv_pad0'.*pads")
        c, i = conv("Conv_s3", "x", "y", np.ones((4, 4, 3, 3)), stride=3)
        self.assertFails(single_op_model(c, i), r"'Conv_s3'.*strides")

    def test_pool_and_resize_out_of_range(self):
        n = helper.make_node("MaxPool", ["x"], ["y"], name="Pool_3",
                             kernel_shape=[3, 3], strides=[2, 2])
        self.assertFails(single_op_model(n), r"'Pool_3' \(MaxPool\): kernel_shape")
        n = helper.make_node("MaxPool", ["x"], ["y"], name="Pool_ceil",
                             kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1)
        self.assertFails(single_op_model(n), r"'Pool_ceil'.*ceil_mode")
        scales = numpy_helper.from_array(np.array([1, 1, 3, 3], np.float32), "s3")
        roi = numpy_helper.from_array(np.zeros(0, np.float32), "roi")
        n = helper.make_node("Resize", ["x", "roi", "s3"], ["y"], name="Resize_x3",
                             mode="nearest", coordinate_transformation_mode="asymmetric",
                             nearest_mode="floor")
        self.assertFails(single_op_model(n, [scales, roi]), r"'Resize_x3'.*scales")
        n = helper.make_node("Resize", ["x", "roi", "s3"], ["y"], name="Resize_lin",
                             mode="linear")
        self.assertFails(single_op_model(n, [scales, roi]), r"'Resize_lin'.*mode 'linear'")

    def test_add_with_shapes_that_differ(self):
        pool = helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2],
                                strides=[2, 2])
        n = helper.make_node("Add", ["x", "p"], ["y"], name="Add_bcast")
        m = single_op_model(n)
        m.graph.node.insert(2, pool)
        self.assertFails(m, r"node 'Add_bcast' \(Add\): addends .* differ in shape")

    def test_relu_not_after_conv(self):
        n = helper.make_node("Relu", ["x"], ["y"], name="Relu_again")
        self.assertFails(single_op_model(n), r"'Relu_again'.*follow a Conv")

    def test_sigmoid_inside_the_graph(self):
        n = helper.make_node("Sigmoid", ["x"], ["y"], name="Sigmoid_mid")
        self.assertFails(single_op_model(n), r"'Sigmoid_mid'.*only in a graph output")

    def test_transpose_other_than_nhwc(self):
        m = small_detector()
        for n in m.graph.node:
            if n.name == "T_box":
                n.attribute[0].ints[:] = [0, 3, 2, 1]
        self.assertFails(m, r"node 'T_box' \(Transpose\): perm")

    def test_gray_needs_three_channels(self):
        m = small_detector()
        m.graph.input[0].type.tensor_type.shape.dim[1].dim_value = 1
        self.assertFails(m, "--no-gray")

    def test_command_line(self):
        n = helper.make_node("Softmax", ["x"], ["y"], name="Softmax_7", axis=1)
        with tempfile.TemporaryDirectory() as d:
            src, out = os.path.join(d, "bad.onnx"), os.path.join(d, "bad.enn")
            onnx.save(single_op_model(n), src)
            p = subprocess.run([SCRIPT, src, "-o", out], capture_output=True, text=True)
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("node 'Softmax_7' (Softmax): unsupported op Softmax", p.stderr)
            self.assertFalse(os.path.exists(out))
            onnx.save(small_detector(), src)
            p = subprocess.run([SCRIPT, src, "-o", out, "--size", "96x64"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertRegex(p.stdout, r"^bad: \d+ nodes .*, \d+ params, 3 outputs")
            self.assertEqual(enn_reference.load(out)["shape"], (1, 64, 96))


class YuNetTest(unittest.TestCase):
    """The real YuNet ONNX, converted with the defaults, against OpenCV DNN."""

    @classmethod
    def setUpClass(cls):
        need(YUNET_ONNX)
        cls.converted = onnx_import.convert(YUNET_ONNX, "face_detection_yunet_2023mar")
        cls.model = enn_reference.load(cls.converted.data)

    def test_structure(self):
        m = self.model
        self.assertEqual(m["shape"], (1, 320, 320))
        self.assertEqual([o for o, _ in m["outputs"]], YUNET_OUTPUTS)
        ops = [n["op"] for n in m["nodes"]]
        self.assertEqual((ops.count(1), ops.count(4), ops.count(5)), (53, 4, 2))
        sig = {o for o, v in m["outputs"] if m["nodes"][v - 1]["sigmoid"]}
        self.assertEqual(sig, {o for o in YUNET_OUTPUTS if o[:3] in ("cls", "obj")})

    def test_shipped_file_is_up_to_date(self):
        need(SHIPPED)
        with open(SHIPPED, "rb") as f:
            shipped = f.read()
        self.assertEqual(shipped, self.converted.data,
                         f"{SHIPPED} differs from a fresh conversion: run tools/convert/"
                         f"onnx2enn {YUNET_ONNX} -o {SHIPPED}")
        again = onnx_import.convert(YUNET_ONNX, "face_detection_yunet_2023mar").data
        self.assertEqual(again, shipped)

    def test_unequal_add_at_size_not_multiple_of_32(self):
        with self.assertRaisesRegex(onnx_import.ConversionError,
                                    r"node 'Add_44' \(Add\): addends .* differ in shape"):
            onnx_import.convert(YUNET_ONNX, "y", size=(320, 240))

    def compare(self, photo, size, model=None, gray=True):
        need(os.path.join(FACES, photo))
        pix = gray_photo(photo, size)
        if gray:
            ref = enn_reference.run(model or self.model, pix[None])
        else:
            ref = enn_reference.run(model, np.repeat(pix[None], 3, axis=0))
        blob = np.repeat(pix[None, None], 3, axis=1)
        cv = opencv_outputs(YUNET_ONNX, blob, YUNET_OUTPUTS)
        diffs = max_differences(cv, ref)
        w, h = size
        print(f"\n  {photo} {w}x{h}{'' if gray else ' (--no-gray)'}: max |ONNX - .enn| "
              + " ".join(f"{n} {d:.2g}" for n, d in diffs.items()), file=sys.stderr)
        for n, d in diffs.items():
            self.assertLess(d, TOLERANCE, f"{n} on {photo} at {w}x{h}")
        score = np.sqrt(cv["cls_8"] * cv["obj_8"]).max()
        return score

    def test_astronaut_320x256(self):
        self.assertGreater(self.compare("astronaut.png", (320, 256)), 0.5)  # a face found

    def test_voc_photo_640x480(self):
        self.assertGreater(self.compare("2008_001322.jpg", (640, 480)), 0.5)

    def test_portrait_photo_384x480(self):
        self.compare("2008_001009.jpg", (384, 480))

    def test_no_gray_keeps_three_channels(self):
        r = onnx_import.convert(YUNET_ONNX, "y", gray=False, size=(640, 480))
        m = enn_reference.load(r.data)
        self.assertEqual(m["shape"], (3, 480, 640))
        self.compare("astronaut.png", (320, 256), model=m, gray=False)


if __name__ == "__main__":
    unittest.main()
