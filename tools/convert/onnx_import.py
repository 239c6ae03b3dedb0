"""Imports a fully convolutional ONNX network (such as YuNet, the face detector of
libfacedetection / the OpenCV model zoo) as an `.enn` version 2.0 model
(docs/model-format.md). The command-line front end is `tools/convert/onnx2enn`.

What maps to what:

- Conv (any group, kernel 1x1 or 3x3, pads kernel // 2 on every side, stride 1 or 2,
  dilation 1) -> conv node; a Relu that is the conv output's sole consumer -> the
  node's ReLU flag.
- MaxPool 2x2, stride 2, no padding, ceil_mode 0 -> max pool node (op 4).
- Resize nearest / asymmetric / floor with constant scales [1, 1, 2, 2] -> upsample
  node (op 5, factor 2).
- Add -> no node: every consumer of the Add lists both addends as its inputs (the
  engine runs a node on the element-wise sum of its inputs). The addends must have the
  same shape (no broadcasting).
- At a graph output, a tail of Transpose(0, 2, 3, 1) + Reshape(N, H*W, C) (both
  optional) and Sigmoid (optional) is dropped; the Sigmoid becomes the producing conv's
  sigmoid flag. The output keeps its ONNX name and points at the producing node. Its
  layout in the engine is that node's: [channels][rows][cols] (channel-major), not the
  ONNX output's [rows * cols][channels].
- Constant nodes and initializers feed weights, biases, Resize scales and Reshape
  shapes only.

Anything else raises ConversionError naming the ONNX node.

With gray=True (the default) the network input is folded from BGR to one gray channel:
the weights of each conv that reads the input are summed over its 3 input channels.
This is exact for a gray frame replicated to three channels (B = G = R).
"""
import re
import struct
import zlib

import numpy as np

MAGIC = b"ENNM"
VERSION = (2, 0)
OP_CONV, OP_GAP, OP_DENSE, OP_MAXPOOL, OP_UPSAMPLE = 1, 2, 3, 4, 5
FLAG_RELU, FLAG_SIGMOID = 1, 2
DTYPE_F32 = 0
OP_NAMES = {OP_CONV: "conv", OP_MAXPOOL: "max pool", OP_UPSAMPLE: "upsample"}

# Limits of the format (docs/model-format.md)
MAX_NODES, MAX_INPUTS, MAX_OUTPUTS = 1024, 16, 16
MAX_CHANNELS_IN, MAX_CHANNELS, MAX_SIDE = 64, 4096, 1024
OUTPUT_NAME = re.compile(r"[a-z0-9_]{1,32}\Z")


class ConversionError(Exception):
    """The ONNX graph holds something the .enn format cannot express."""


class Converted:
    """Result of convert(): data (the file's bytes) and figures for the summary line."""

    def __init__(self, data, name, nodes, outputs, in_shape):
        self.data = data
        self.name = name
        self.nodes = nodes            # list of dicts, in file order
        self.outputs = outputs        # list of (name, value id)
        self.in_shape = in_shape      # (channels, height, width)

    @property
    def params(self):
        return sum(n["w"].size + n["b"].size for n in self.nodes if n["op"] == OP_CONV)

    def summary(self):
        counts = {}
        for n in self.nodes:
            counts[OP_NAMES[n["op"]]] = counts.get(OP_NAMES[n["op"]], 0) + 1
        kinds = ", ".join(f"{v} {k}" for k, v in counts.items())
        c, h, w = self.in_shape
        return (f"{self.name}: {len(self.nodes)} nodes ({kinds}), {self.params} params, "
                f"{len(self.outputs)} outputs ({' '.join(n for n, _ in self.outputs)}), "
                f"input {c}x{h}x{w}, {len(self.data)} bytes")


def _label(node, index):
    name = node.name or f"#{index}"
    return f"node '{name}' ({node.op_type})"


def _attrs(node):
    from onnx import helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode("utf-8", "replace")
        out[a.name] = v
    return out


def _str(s):
    b = s.encode("ascii")
    return struct.pack("<H", len(b)) + b


def _tensor(a):
    a = np.ascontiguousarray(a, dtype="<f4").ravel()
    return struct.pack("<BxxxI", DTYPE_F32, a.size) + a.tobytes()


def _pack(name, in_shape, mean, std, nodes, outputs):
    c, h, w = in_shape
    payload = _str(name) + struct.pack("<HHHff", c, h, w, mean, std)
    payload += struct.pack("<H", 0)                  # class count 0: not a classifier
    payload += struct.pack("<H", len(nodes))
    for n in nodes:
        payload += struct.pack("<BBH", n["op"], n["flags"], len(n["inputs"]))
        payload += struct.pack(f"<{len(n['inputs'])}H", *n["inputs"])
        if n["op"] == OP_CONV:
            payload += struct.pack("<HBBH", n["out"], n["kernel"], n["stride"], n["groups"])
            payload += _tensor(n["w"]) + _tensor(n["b"])
        elif n["op"] == OP_MAXPOOL:
            payload += struct.pack("<BB", 2, 2)
        elif n["op"] == OP_UPSAMPLE:
            payload += struct.pack("<B", 2)
    payload += struct.pack("<H", len(outputs))
    for oname, vid in outputs:
        payload += _str(oname) + struct.pack("<H", vid)
    header = MAGIC + struct.pack("<HHII", VERSION[0], VERSION[1], len(payload),
                                 zlib.crc32(payload) & 0xFFFFFFFF)
    return header + payload


def _static_dims(value_info):
    dims = []
    for d in value_info.type.tensor_type.shape.dim:
        dims.append(d.dim_value if d.HasField("dim_value") else None)
    return dims


def default_name(path):
    """Model name from an ONNX file name: its stem, in the characters names allow."""
    import os
    stem = os.path.splitext(os.path.basename(path))[0]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "model"


def convert(model, name, size=None, gray=True, mean=0.0, std=1.0 / 255.0):
    """Converts an onnx.ModelProto (or a path to one) and returns a Converted.

    size: (width, height) written as the nominal input size; None takes the ONNX input's
    static size, or 320x320 where the ONNX size is symbolic (the engine re-plans fully
    convolutional models at other sizes). Shapes are checked at this size.
    """
    import onnx
    from onnx import numpy_helper

    if isinstance(model, str):
        try:
            model = onnx.load(model)
        except Exception as e:  # noqa: BLE001  (onnx raises several kinds)
            raise ConversionError(f"cannot read ONNX file {model}: {e}") from None
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)

    if not (1 <= len(name) <= 128) or not all(32 <= ord(ch) < 127 for ch in name):
        raise ConversionError(f"model name {name!r}: 1..128 printable ASCII characters")
    if not (std > 0 and np.isfinite(std) and np.isfinite(mean)):
        raise ConversionError(f"normalisation mean {mean}, std {std}: std must be > 0")

    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant":
            a = _attrs(n)
            if "value" not in a:
                raise ConversionError(f"{_label(n, 0)}: only a tensor 'value' is supported")
            consts[n.output[0]] = numpy_helper.to_array(a["value"])

    inputs = [i for i in g.input if i.name not in consts]
    if len(inputs) != 1:
        raise ConversionError(f"the graph has {len(inputs)} inputs "
                              f"({', '.join(i.name for i in inputs)}); one is supported")
    gin = inputs[0]
    dims = _static_dims(gin)
    if len(dims) != 4 or dims[0] not in (1, None) or dims[1] is None:
        raise ConversionError(f"graph input '{gin.name}': shape {dims}; expected "
                              "[1, channels, height, width] with a fixed channel count")
    in_channels = dims[1]
    if gray and in_channels != 3:
        raise ConversionError(f"--gray folds 3 input channels (BGR); graph input "
                              f"'{gin.name}' has {in_channels} (use --no-gray)")
    if size is None:
        size = (dims[3], dims[2]) if dims[2] and dims[3] else (320, 320)
    width, height = size
    for what, v in (("width", width), ("height", height)):
        if not 2 <= v <= MAX_SIDE:
            raise ConversionError(f"input {what} {v}: the format allows 2..{MAX_SIDE}")

    consumers = {}
    for n in g.node:
        for v in n.input:
            if v:
                consumers.setdefault(v, []).append(n)
    graph_outputs = [o.name for o in g.output]
    out_set = set(graph_outputs)
    index = {id(n): k for k, n in enumerate(g.node)}
    label = lambda n: _label(n, index[id(n)])  # noqa: E731

    def sole_consumer(v, n):
        return consumers.get(v, []) == [n] and v not in out_set

    # Output tails: [Transpose(0,2,3,1) [Reshape]] and Sigmoid, walking back from each
    # graph output through values that feed nothing else.
    tail_of = {}          # id(onnx node) -> graph output name
    tails = {}            # graph output -> (base value, [nodes, first to last])
    producer = {o: n for n in g.node for o in n.output}
    for o in graph_outputs:
        chain, v = [], o
        while v in producer and producer[v].op_type in ("Transpose", "Reshape", "Sigmoid"):
            p = producer[v]
            if chain and not sole_consumer(v, chain[0]):
                break
            if id(p) in tail_of:
                raise ConversionError(f"{label(p)}: feeds two graph outputs "
                                      f"('{tail_of[id(p)]}' and '{o}')")
            chain.insert(0, p)
            v = p.input[0]
        if chain and not sole_consumer(v, chain[0]):
            # the base value is read elsewhere too: fine unless the tail changes it
            if any(p.op_type == "Sigmoid" for p in chain):
                raise ConversionError(
                    f"{label(chain[0])}: the value it reads ('{v}') has other consumers, "
                    "so its Sigmoid cannot become the producing conv's flag")
        for p in chain:
            tail_of[id(p)] = o
        tails[o] = (v, chain)

    # value name -> (list of value ids summed, (C, H, W))
    vals = {gin.name: ([0], (in_channels, height, width))}
    nodes = []            # engine nodes; node k is nodes[k - 1]
    conv_of_value = {}    # ONNX value name -> engine node id, for a conv's own output

    def tensor_in(n, v, what="input"):
        if v in consts:
            raise ConversionError(f"{label(n)}: {what} '{v}' is a constant; only weights, "
                                  "biases, scales and shapes may be")
        if v not in vals:
            if v in producer:
                raise ConversionError(f"{label(n)}: {what} '{v}' comes from a node that "
                                      "has not run yet or is not supported here")
            raise ConversionError(f"{label(n)}: {what} '{v}' is not defined")
        return vals[v]

    def const_in(n, k, what):
        if len(n.input) <= k or not n.input[k]:
            return None
        v = n.input[k]
        if v not in consts:
            raise ConversionError(f"{label(n)}: {what} '{v}' must be an initializer "
                                  "or Constant")
        return consts[v]

    def add_node(n, node, shape):
        if len(node["inputs"]) > MAX_INPUTS:
            raise ConversionError(f"{label(n)}: sums {len(node['inputs'])} inputs; "
                                  f"the format allows {MAX_INPUTS}")
        node["onnx"] = n.name or f"#{index[id(n)]}"
        nodes.append(node)
        vals[n.output[0]] = ([len(nodes)], shape)
        return len(nodes)

    for n in g.node:
        op, a = n.op_type, _attrs(n)
        if op == "Constant":
            continue
        if id(n) in tail_of:
            continue
        if op == "Conv":
            refs, (c, h, w) = tensor_in(n, n.input[0])
            wt = const_in(n, 1, "weight")
            bias = const_in(n, 2, "bias")
            if wt is None or wt.ndim != 4:
                raise ConversionError(f"{label(n)}: needs a 4-d constant weight")
            o_ch, i_per_g, kh, kw = wt.shape
            groups = int(a.get("group", 1))
            if a.get("auto_pad", "NOTSET") != "NOTSET":
                raise ConversionError(f"{label(n)}: auto_pad {a['auto_pad']} not supported "
                                      "(explicit pads only)")
            dil = list(a.get("dilations", [1, 1]))
            if dil != [1, 1]:
                raise ConversionError(f"{label(n)}: dilations {dil} not supported (only 1)")
            ks = list(a.get("kernel_shape", [kh, kw]))
            if ks != [kh, kw] or kh != kw or kh not in (1, 3):
                raise ConversionError(f"{label(n)}: kernel {ks} not supported "
                                      "(1x1 or 3x3)")
            k = kh
            pads = list(a.get("pads", [0, 0, 0, 0]))
            if pads != [k // 2] * 4:
                raise ConversionError(f"{label(n)}: pads {pads} not supported (kernel {k} "
                                      f"needs {[k // 2] * 4})")
            strides = list(a.get("strides", [1, 1]))
            if strides not in ([1, 1], [2, 2]):
                raise ConversionError(f"{label(n)}: strides {strides} not supported "
                                      "(1 or 2, equal in both directions)")
            if groups < 1 or groups > MAX_CHANNELS or o_ch % groups or \
                    c != i_per_g * groups:
                raise ConversionError(f"{label(n)}: {groups} groups, weight {list(wt.shape)} "
                                      f"on {c} input channels do not fit")
            if not 1 <= o_ch <= MAX_CHANNELS:
                raise ConversionError(f"{label(n)}: {o_ch} output channels; the format "
                                      f"allows 1..{MAX_CHANNELS}")
            if bias is None:
                bias = np.zeros(o_ch, np.float32)
            if bias.shape != (o_ch,):
                raise ConversionError(f"{label(n)}: bias shape {list(bias.shape)}, "
                                      f"expected [{o_ch}]")
            if not (np.isfinite(wt).all() and np.isfinite(bias).all()):
                raise ConversionError(f"{label(n)}: weights or bias not finite")
            s = strides[0]
            p = k // 2
            oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            nid = add_node(n, {"op": OP_CONV, "flags": 0, "inputs": list(refs),
                               "out": o_ch, "kernel": k, "stride": s, "groups": groups,
                               "w": wt.astype(np.float32), "b": bias.astype(np.float32)},
                           (o_ch, oh, ow))
            conv_of_value[n.output[0]] = nid
        elif op == "Relu":
            v = n.input[0]
            nid = conv_of_value.get(v)
            if nid is None:
                raise ConversionError(f"{label(n)}: a Relu must follow a Conv directly "
                                      f"(its input '{v}' does not come from a Conv)")
            if not sole_consumer(v, n):
                raise ConversionError(f"{label(n)}: the Conv output '{v}' it reads has other "
                                      "consumers; a Relu must be its conv's sole consumer")
            nodes[nid - 1]["flags"] |= FLAG_RELU
            vals[n.output[0]] = vals[v]
        elif op == "MaxPool":
            refs, (c, h, w) = tensor_in(n, n.input[0])
            if len(n.output) > 1 and n.output[1]:
                raise ConversionError(f"{label(n)}: the Indices output is not supported")
            checks = [("kernel_shape", [2, 2]), ("strides", [2, 2]), ("pads", [0, 0, 0, 0]),
                      ("ceil_mode", 0), ("dilations", [1, 1]), ("auto_pad", "NOTSET"),
                      ("storage_order", 0)]
            for key, want in checks:
                got = a.get(key, want if key != "kernel_shape" else None)
                if isinstance(got, (list, tuple)):
                    got = list(got)
                if got != want:
                    raise ConversionError(f"{label(n)}: {key} {got} not supported "
                                          f"(only {want})")
            if h < 2 or w < 2:
                raise ConversionError(f"{label(n)}: pools a {h}x{w} map to nothing at input "
                                      f"size {width}x{height}")
            add_node(n, {"op": OP_MAXPOOL, "flags": 0, "inputs": list(refs)},
                     (c, h // 2, w // 2))
        elif op == "Resize":
            if opset < 11:
                raise ConversionError(f"{label(n)}: Resize of opset {opset} not supported "
                                      "(opset 11 or later)")
            refs, (c, h, w) = tensor_in(n, n.input[0])
            want = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric",
                    "nearest_mode": "floor"}
            got = {"mode": a.get("mode", "nearest"),
                   "coordinate_transformation_mode":
                       a.get("coordinate_transformation_mode", "half_pixel"),
                   "nearest_mode": a.get("nearest_mode", "round_prefer_floor")}
            for key in want:
                if got[key] != want[key]:
                    raise ConversionError(f"{label(n)}: {key} '{got[key]}' not supported "
                                          f"(only '{want[key]}')")
            sizes = const_in(n, 3, "sizes")
            if sizes is not None and sizes.size:
                raise ConversionError(f"{label(n)}: sizes input not supported "
                                      "(constant scales [1, 1, 2, 2] only)")
            scales = const_in(n, 2, "scales")
            if scales is None or list(np.asarray(scales, np.float64).ravel()) != [1, 1, 2, 2]:
                got_s = None if scales is None else list(np.asarray(scales).ravel())
                raise ConversionError(f"{label(n)}: scales {got_s} not supported "
                                      "(constant [1, 1, 2, 2] only)")
            add_node(n, {"op": OP_UPSAMPLE, "flags": 0, "inputs": list(refs)},
                     (c, 2 * h, 2 * w))
        elif op == "Add":
            if len(n.input) != 2:
                raise ConversionError(f"{label(n)}: needs two inputs")
            ra, sa = tensor_in(n, n.input[0], "addend")
            rb, sb = tensor_in(n, n.input[1], "addend")
            if sa != sb:
                raise ConversionError(
                    f"{label(n)}: addends '{n.input[0]}' {list(sa)} and '{n.input[1]}' "
                    f"{list(sb)} differ in shape at input size {width}x{height} "
                    "(no broadcasting)")
            vals[n.output[0]] = (list(ra) + list(rb), sa)
        elif op in ("Transpose", "Reshape", "Sigmoid"):
            raise ConversionError(f"{label(n)}: {op} is supported only in a graph output's "
                                  "Transpose(0,2,3,1) + Reshape + Sigmoid tail")
        else:
            raise ConversionError(f"{label(n)}: unsupported op {op}")

    if not nodes:
        raise ConversionError("the graph has no conv, max pool or upsample node")

    # Graph outputs
    if len(graph_outputs) > MAX_OUTPUTS:
        raise ConversionError(f"{len(graph_outputs)} graph outputs; the format allows "
                              f"{MAX_OUTPUTS}")
    outputs = []
    for o in graph_outputs:
        if not OUTPUT_NAME.match(o):
            raise ConversionError(f"graph output '{o}': names are 1..32 of a-z, 0-9, '_'")
        base, chain = tails[o]
        if base not in vals:
            raise ConversionError(f"graph output '{o}': '{base}' is not a converted value")
        refs, (c, h, w) = vals[base]
        who = f"graph output '{o}'" + (f" ({label(chain[0])})" if chain else "")
        if refs == [0]:
            raise ConversionError(f"{who}: is the network input")
        if len(refs) != 1:
            raise ConversionError(f"{who}: comes from an Add; an output must be a node")
        nid = refs[0]
        kinds = [p.op_type for p in chain]
        if kinds.count("Sigmoid") > 1 or kinds.count("Transpose") > 1 or \
                kinds.count("Reshape") > 1:
            raise ConversionError(f"{who}: tail {kinds} repeats an op")
        for p in chain:
            pa = _attrs(p)
            if p.op_type == "Transpose" and list(pa.get("perm", [])) != [0, 2, 3, 1]:
                raise ConversionError(f"{label(p)}: perm {pa.get('perm')} not supported "
                                      "(only 0,2,3,1 at a graph output)")
            if p.op_type == "Reshape":
                pos = kinds.index("Reshape")
                if "Transpose" not in kinds[:pos]:
                    raise ConversionError(f"{label(p)}: a Reshape at a graph output must "
                                          "follow Transpose(0,2,3,1)")
                shape = const_in(p, 1, "shape")
                if shape is None:
                    raise ConversionError(f"{label(p)}: needs a constant shape")
                shape = [int(x) for x in np.asarray(shape).ravel()]
                nhwc = [1, h, w, c]
                res = [nhwc[i] if d == 0 and i < 4 else d for i, d in enumerate(shape)]
                if res.count(-1) == 1:
                    known = int(np.prod([d for d in res if d != -1]))
                    res[res.index(-1)] = (h * w * c) // known if known else -1
                if len(res) < 2 or res[-1] != c or int(np.prod(res)) != h * w * c:
                    raise ConversionError(f"{label(p)}: shape {shape} not supported (must "
                                          f"flatten rows and columns, keeping {c} "
                                          "channels last)")
            if p.op_type == "Sigmoid":
                node = nodes[nid - 1]
                if node["op"] != OP_CONV or conv_of_value.get(base) != nid:
                    raise ConversionError(f"{label(p)}: a Sigmoid must follow a Conv "
                                          "directly")
                if node["flags"] & FLAG_RELU:
                    raise ConversionError(f"{label(p)}: the conv already has a Relu; the "
                                          "format does not allow both")
                node["flags"] |= FLAG_SIGMOID
        outputs.append((o, nid))

    # Drop nodes no output depends on, keeping ONNX (topological) order.
    live = set()
    stack = [nid for _, nid in outputs]
    while stack:
        k = stack.pop()
        if k in live or k == 0:
            continue
        live.add(k)
        stack.extend(nodes[k - 1]["inputs"])
    renum = {0: 0}
    kept = []
    for k, node in enumerate(nodes, start=1):
        if k in live:
            kept.append(node)
            renum[k] = len(kept)
    for k, node in enumerate(kept, start=1):
        node["inputs"] = [renum[i] for i in node["inputs"]]
        assert all(i < k for i in node["inputs"]), "graph out of order"
    outputs = [(o, renum[nid]) for o, nid in outputs]
    nodes = kept
    if len(nodes) > MAX_NODES:
        raise ConversionError(f"{len(nodes)} nodes; the format allows {MAX_NODES}")

    if gray:
        for node in nodes:
            if 0 in node["inputs"]:
                if node["op"] != OP_CONV or node["groups"] != 1 or node["inputs"] != [0]:
                    raise ConversionError(
                        f"--gray: the network input feeds node '{node['onnx']}' "
                        f"({OP_NAMES[node['op']]}, {node.get('groups', 1)} groups, inputs "
                        f"{node['inputs']}), which cannot be folded (use --no-gray)")
                node["w"] = node["w"].astype(np.float64).sum(axis=1, keepdims=True) \
                    .astype(np.float32)
        in_channels = 1
    if not 1 <= in_channels <= MAX_CHANNELS_IN:
        raise ConversionError(f"{in_channels} input channels; the format allows "
                              f"1..{MAX_CHANNELS_IN}")

    in_shape = (in_channels, height, width)
    data = _pack(name, in_shape, mean, std, nodes, outputs)
    return Converted(data, name, nodes, outputs, in_shape)
