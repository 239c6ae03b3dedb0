"""A small pure-numpy reader and executor of `.enn` files, versions 1.0, 2.0 and 2.1
(docs/model-format.md), written from the specification to check writers such as
onnx2enn and tools/train/quantize, and the C engine, against it.

Float models (precision 0) run in float64: slow, but plain. Int8 models (version 2.1,
precision 1) run exactly as the specification's "Int8 models" section says, in numpy
float32 arithmetic with np.rint (round half to even), so that their outputs are the bits
the C engine must give: this is the independent check of its int8 kernels. Only the
float tail is not pinned bit for bit by the format (dense layers, the sigmoid), and that
is computed in float64 and rounded once to float32.

    m = load("models/face_detection_yunet_2023mar.enn")
    outs = run(m, pixels)    # pixels: [channels][rows][cols], 0..255
    outs["bbox_8"]           # [channels][rows][cols]
    outs = run_batch(m, batch)   # batch: [n][channels][rows][cols], same per image
"""
import struct
import zlib

import numpy as np

OP_CONV, OP_GAP, OP_DENSE, OP_MAXPOOL, OP_UPSAMPLE = 1, 2, 3, 4, 5
F32 = np.float32
DTYPE_F32, DTYPE_INT8, DTYPE_INT32 = 0, 1, 2
PRECISION_F32, PRECISION_INT8 = 0, 1
MAP_OPS = (OP_CONV, OP_MAXPOOL, OP_UPSAMPLE)


class FormatError(ValueError):
    pass


def load(src):
    """Parses an .enn file (path or bytes). Raises FormatError naming the problem.

    Returns a dict: version, name, shape (c, h, w), mean, std, classes, nodes, outputs
    [(name, value id)], precision (0 or 1), and for int8 models qparams: one
    (np.float32 scale, zero point) per value (0 = the input). Each node: op, relu,
    sigmoid, inputs; conv and dense: out, w, b (float models: float64 arrays); conv:
    kernel, stride, groups. Int8 models' convs hold w as int8 [out][in/g][k][k],
    w_scale as float32 [out], b as int32 [out]; nodes with a summed input requantised
    in int8 (conv, max pool, upsample with several inputs) hold qsum."""
    if isinstance(src, (bytes, bytearray)):
        data = bytes(src)
    else:
        with open(src, "rb") as f:
            data = f.read()
    if len(data) < 16 or data[:4] != b"ENNM":
        raise FormatError("bad magic: not an .enn file")
    major, minor, plen, crc = struct.unpack_from("<HHII", data, 4)
    if major not in (1, 2):
        raise FormatError(f"format version {major}.{minor} not supported")
    payload = data[16:]
    if plen != len(payload):
        raise FormatError(f"payload length {plen}, file holds {len(payload)}")
    if zlib.crc32(payload) & 0xFFFFFFFF != crc:
        raise FormatError("checksum mismatch")
    off = 0
    # Tensors come before the precision byte, so int8 tensors are read as they come
    # and checked against the precision once it is known.
    int8_tensors = []

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, payload, off)
        off += struct.calcsize("<" + fmt)
        return v

    def string():
        (n,) = take("H")
        return take(f"{n}s")[0].decode("ascii")

    def tensor(count, where, scales=0):
        """A tensor of `count` values; `scales` > 0: a conv weight, which an int8 model
        stores as dtype 1 with that many per-output-channel scales."""
        nonlocal off
        dtype, n = take("BxxxI")
        if n != count:
            raise FormatError(f"{where}: tensor holds {n} values, shape implies {count}")
        if dtype == DTYPE_F32:
            if off + 4 * n > len(payload):
                raise struct.error
            a = np.frombuffer(payload, "<f4", n, off).astype(np.float64)
            off += 4 * n
            if not np.isfinite(a).all():
                raise FormatError(f"{where}: non-finite weight")
            return a, None
        if dtype == DTYPE_INT8:
            if not scales:
                raise FormatError(f"{where}: int8 tensor where f32 is required")
            if off + 4 * scales + n > len(payload):
                raise struct.error
            s = np.frombuffer(payload, "<f4", scales, off).astype(np.float32)
            off += 4 * scales
            q = np.frombuffer(payload, np.int8, n, off).copy()
            off += n
            if not (np.isfinite(s) & (s > 0)).all():
                raise FormatError(f"{where}: weight scale not finite and > 0")
            if (q == -128).any():
                raise FormatError(f"{where}: int8 weight -128 (only -127..127)")
            int8_tensors.append(where)
            return q, s
        if dtype == DTYPE_INT32:
            if off + 4 * n > len(payload):
                raise struct.error
            a = np.frombuffer(payload, "<i4", n, off).astype(np.int32)
            off += 4 * n
            int8_tensors.append(where)
            return a, None
        raise FormatError(f"{where}: tensor dtype {dtype} not supported")

    try:
        name = string()
        c, h, w = take("HHH")
        mean, std = take("ff")
        (nc,) = take("H")
        if nc == 0 and major == 1:
            raise FormatError("class count 0 in a version-1 file")
        classes = [string() for _ in range(nc)]
        (nn,) = take("H")
        nodes, channels, is_map = [], [c], [True]
        for k in range(1, nn + 1):
            op, flags, n_in = take("BBH")
            inputs = list(take(f"{n_in}H"))
            if not inputs or any(i >= k for i in inputs):
                raise FormatError(f"node {k}: inputs {inputs} not earlier values")
            cin = channels[inputs[0]]
            if any(channels[i] != cin for i in inputs):
                raise FormatError(f"node {k}: summed inputs differ in channels")
            allowed = 1 | (2 if (major == 2 and op == OP_CONV) else 0)
            if op in (OP_MAXPOOL, OP_UPSAMPLE, OP_GAP):
                allowed = 0
            if flags & ~allowed or flags == 3:
                raise FormatError(f"node {k}: flags {flags} not allowed")
            node = {"op": op, "relu": bool(flags & 1), "sigmoid": bool(flags & 2),
                    "inputs": inputs}
            if op == OP_CONV:
                out, kern, stride = take("HBB")
                groups = take("H")[0] if major == 2 else 1
                if kern not in (1, 3) or stride not in (1, 2) or groups < 1 or \
                        cin % groups or out % groups:
                    raise FormatError(f"node {k}: conv kernel {kern} stride {stride} "
                                      f"groups {groups} on {cin} -> {out} channels")
                node.update(out=out, kernel=kern, stride=stride, groups=groups)
                wt, ws = tensor(out * (cin // groups) * kern * kern, f"node {k} weights",
                                scales=out)
                node["w"] = wt.reshape(out, cin // groups, kern, kern)
                if ws is not None:
                    node["w_scale"] = ws
                node["b"], _ = tensor(out, f"node {k} bias")
                channels.append(out)
            elif op == OP_MAXPOOL and major == 2:
                kern, stride = take("BB")
                if (kern, stride) != (2, 2):
                    raise FormatError(f"node {k}: max pool {kern}/{stride}")
                channels.append(cin)
            elif op == OP_UPSAMPLE and major == 2:
                (factor,) = take("B")
                if factor != 2:
                    raise FormatError(f"node {k}: upsample factor {factor}")
                channels.append(cin)
            elif op == OP_GAP:
                channels.append(cin)
            elif op == OP_DENSE:
                (out,) = take("H")
                node["out"] = out
                node["w"] = tensor(out * cin, f"node {k} weights")[0].reshape(out, cin)
                node["b"], _ = tensor(out, f"node {k} bias")
                channels.append(out)
            else:
                raise FormatError(f"node {k}: op {op} not supported in version {major}")
            is_map.append(op in MAP_OPS)
            nodes.append(node)
        if major == 2:
            (no,) = take("H")
            outputs = []
            for _ in range(no):
                oname = string()
                (vid,) = take("H")
                if not 1 <= vid <= nn:
                    raise FormatError(f"output {oname}: value {vid} out of range")
                outputs.append((oname, vid))
            if len({o for o, _ in outputs}) != len(outputs):
                raise FormatError("repeated output name")
        else:
            outputs = [("logits", nn)]
        precision, qparams = PRECISION_F32, None
        if (major, minor) >= (2, 1):
            (precision,) = take("B")
            if precision not in (PRECISION_F32, PRECISION_INT8):
                raise FormatError(f"precision {precision} not supported")
        if precision == PRECISION_INT8:
            qparams = [take("fB") for _ in range(nn + 1)]
            qsums = [take("fB") for node in nodes
                     if node["op"] in MAP_OPS and len(node["inputs"]) > 1]
    except struct.error:
        raise FormatError("truncated file") from None
    if off != len(payload):
        raise FormatError(f"{len(payload) - off} bytes left over")
    model = {"version": (major, minor), "name": name, "shape": (c, h, w), "mean": mean,
             "std": std, "classes": classes, "nodes": nodes, "outputs": outputs,
             "precision": precision}
    if precision == PRECISION_F32:
        if int8_tensors:
            raise FormatError(f"{int8_tensors[0]}: int8/int32 tensor in a float model")
    else:
        _check_int8(model, qparams, qsums, is_map)
    return model


def _qparam(scale, zero, where):
    scale = np.float32(scale)
    if not (np.isfinite(scale) and scale > 0):
        raise FormatError(f"{where}: scale {float(scale)!r} not finite and > 0")
    if not 0 <= zero <= 127:
        raise FormatError(f"{where}: zero point {zero} not in 0..127")
    return scale, int(zero)


def _check_int8(model, qparams, qsums, is_map):
    """The loader's rules for int8 models (docs/model-format.md, "Int8 models"); fills
    model["qparams"] and each summed node's "qsum"."""
    nodes = model["nodes"]
    map_outputs = {vid for _, vid in model["outputs"] if is_map[vid]}
    qp = [_qparam(s, z, f"value {v} qparam") for v, (s, z) in enumerate(qparams)]
    for v, (s, z) in enumerate(qp):
        if (not is_map[v] or v in map_outputs) and (s != np.float32(1) or z != 0):
            kind = "vector" if not is_map[v] else "map output"
            raise FormatError(f"value {v} ({kind}): qparam must be scale 1, zero point 0")
    sums = iter(qsums)
    for k, node in enumerate(nodes, start=1):
        read = [i for i in node["inputs"] if i in map_outputs]
        if read:
            raise FormatError(f"node {k}: reads map output {read[0]} (an int8 model's "
                              "map outputs are float)")
        if node["op"] == OP_CONV:
            if "w_scale" not in node or node["b"].dtype != np.int32:
                raise FormatError(f"node {k}: an int8 model's conv needs int8 weights "
                                  "(dtype 1) and an int32 bias (dtype 2)")
            if node["sigmoid"] and k not in map_outputs:
                raise FormatError(f"node {k}: sigmoid on a quantised map (only on a "
                                  "map output)")
        elif node["op"] == OP_DENSE and node["b"].dtype != np.float64:
            raise FormatError(f"node {k}: an int8 model's dense layer stays f32")
        if node["op"] in MAP_OPS and len(node["inputs"]) > 1:
            node["qsum"] = _qparam(*next(sums), f"node {k} sum qparam")
        if node["op"] in (OP_MAXPOOL, OP_UPSAMPLE):
            src = node.get("qsum", qp[node["inputs"][0]])
            if qp[k] != src:
                raise FormatError(f"node {k}: max pool/upsample qparam {qp[k]} differs "
                                  f"from its input's {src}")
    model["qparams"] = qp


# ---- float executor ---------------------------------------------------------------------

_torch = None


def use_torch(on=True):
    """Speeds up convolutions with PyTorch's CPU convolution (oneDNN, direct algorithm)
    where that changes no result that matters: int8 convs whose every partial sum is an
    integer below 2^24 (float32 adds those exactly, in any order), and float models,
    which then run in float32 instead of float64 (as the C engine does). Off by default:
    the reference stays plain numpy; calibration and evaluation switch it on."""
    global _torch
    if on:
        import torch
        torch.set_num_threads(1)
        _torch = torch
    else:
        _torch = None


def _torch_conv(x, wt, k, s, g):
    t = _torch
    with t.no_grad():
        y = t.nn.functional.conv2d(t.from_numpy(np.ascontiguousarray(x, np.float32)),
                                   t.from_numpy(np.ascontiguousarray(wt, np.float32)),
                                   stride=s, padding=k // 2, groups=g)
    return y.numpy()


def _conv(x, node):
    """Float conv of a batch x [n][c][h][w] (float64; float32 under use_torch)."""
    k, s, g, wt = node["kernel"], node["stride"], node["groups"], node["w"]
    if _torch is not None:
        return _torch_conv(x, wt, k, s, g) + node["b"][None, :, None, None].astype(F32)
    y = _conv_sum(x, wt, k, s, g, node["out"])
    return y + node["b"][None, :, None, None]


def _conv_sum(x, wt, k, s, g, out, dtype=np.float64):
    """sum w * x over each output's window, zero padded, in `dtype`: [n][out][oh][ow].
    Exact when x and w hold integers and every partial sum is representable (the int8
    path relies on it)."""
    n, c, h, w = x.shape
    p = k // 2
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    xp = np.pad(np.asarray(x, dtype), ((0, 0), (0, 0), (p, p), (p, p)))
    ig, og = c // g, out // g
    wt = np.asarray(wt, dtype)
    if ig == 1 and og == 1:            # depthwise: a broadcast product is much faster
        y = np.zeros((n, out, oh, ow), dtype)
        for ky in range(k):
            for kx in range(k):
                patch = xp[:, :, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
                y += wt[None, :, 0, ky, kx, None, None] * patch
        return y
    # channels first, so that each kernel tap is one matrix product per group over the
    # whole batch (numpy would loop over small per-image products otherwise)
    xc = xp.transpose(1, 0, 2, 3)
    y = np.zeros((g, og, n * oh * ow), dtype)
    wg = wt.reshape(g, og, ig, k, k)
    for ky in range(k):
        for kx in range(k):
            patch = xc[:, :, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
            y += np.matmul(wg[:, :, :, ky, kx], patch.reshape(g, ig, n * oh * ow))
    return y.reshape(out, n, oh, ow).transpose(1, 0, 2, 3)


def _maxpool(v, k):
    n, c, h, w = v.shape
    if h < 2 or w < 2:
        raise ValueError(f"node {k}: pools a {h}x{w} map to nothing")
    return v[:, :, :h // 2 * 2, :w // 2 * 2].reshape(n, c, h // 2, 2, w // 2, 2).max(
        axis=(3, 5))


def _sum_shape(values, node, k):
    shapes = {values[i].shape for i in node["inputs"]}
    if len(shapes) != 1:
        raise ValueError(f"node {k}: summed inputs differ in shape {shapes}")


def normalise(model, pixels):
    """Network input from pixels 0..255: (pixel / 255 - mean) / std, in float64."""
    return (np.asarray(pixels, np.float64) / 255.0 - model["mean"]) / model["std"]


def run_float_batch(model, x, keep=False):
    """Runs a float model on normalised inputs x [n][c][h][w] in float64. Returns
    {output name: [n][...]}; keep=True: the list of every value instead (0 = x)."""
    values = [np.asarray(x, np.float64)]
    for k, node in enumerate(model["nodes"], start=1):
        _sum_shape(values, node, k)
        v = values[node["inputs"][0]]
        for i in node["inputs"][1:]:
            v = v + values[i]
        op = node["op"]
        if op == OP_CONV:
            v = _conv(v, node)
        elif op == OP_MAXPOOL:
            v = _maxpool(v, k)
        elif op == OP_UPSAMPLE:
            v = v.repeat(2, axis=2).repeat(2, axis=3)
        elif op == OP_GAP:
            v = v.reshape(v.shape[0], v.shape[1], -1).mean(axis=2)
        elif op == OP_DENSE:
            v = v @ node["w"].T + node["b"]
        if node["relu"]:
            v = np.maximum(v, 0.0)
        if node["sigmoid"]:
            v = 1.0 / (1.0 + np.exp(-v))
        values.append(v)
    if keep:
        return values
    return {name: values[vid] for name, vid in model["outputs"]}


# ---- int8 executor (docs/model-format.md, "Int8 models") -------------------------------

QMAX = 127


def rne_clamp(t, lo, hi):
    """clamp(rne(t), lo, hi) on float32 t: np.rint rounds half to even, as the spec's
    rne (and C's nearbyintf in the default rounding mode)."""
    assert t.dtype == np.float32
    return np.clip(np.rint(t), lo, hi).astype(np.int32)


def quantise_input(model, x):
    """q = clamp(rne(x * float(1 / double(s_0))), -zp_0, 127 - zp_0) + zp_0 on the float32
    network input x."""
    s0, z0 = model["qparams"][0]
    inv = F32(1.0 / np.float64(s0))
    return rne_clamp(np.asarray(x, F32) * inv, -z0, 127 - z0) + z0


def _requantise_sum(values, qp, node):
    """The summed input of a conv, max pool or upsample, requantised to the node's sum
    qparam: t accumulates float(q_i - zp_i) * r_i from 0 in input order, in float32
    (one rounding per product and per add: no fused multiply-add)."""
    s_sum, z_sum = node["qsum"]
    t = None
    for i in node["inputs"]:
        s_i, z_i = qp[i]
        r = F32(np.float64(s_i) / np.float64(s_sum))
        term = (values[i] - z_i).astype(F32) * r
        t = (F32(0) + term) if t is None else (t + term)
    return rne_clamp(t, -z_sum, 127 - z_sum) + z_sum, (s_sum, z_sum)


def int8_conv(q, s_in, z_in, node, s_out, z_out, is_output):
    """One int8 conv on q [n][c][h][w] (integers 0..127, zero point z_in, scale s_in).
    Returns int32 q [n][out][oh][ow] for a quantised map, or float32 for a map output."""
    # Every partial sum is an integer no larger than sum |w| * 127: float32 adds them
    # exactly below 2^24 (the nano models), float64 below 2^53 (any int8 conv).
    bound = np.abs(node["w"].astype(np.int64)).reshape(node["out"], -1).sum(axis=1).max()
    exact = np.float32 if bound * QMAX < 2**24 else np.float64
    if exact is np.float32 and _torch is not None:
        acc = _torch_conv(q - z_in, node["w"], node["kernel"], node["stride"],
                          node["groups"])
    else:
        acc = _conv_sum(q - z_in, node["w"], node["kernel"], node["stride"],
                        node["groups"], node["out"], exact)
    acc = acc.astype(np.int64) + node["b"].astype(np.int64)[None, :, None, None]
    if acc.min(initial=0) < -2**31 or acc.max(initial=0) >= 2**31:
        raise ValueError("int32 accumulator overflow (the quantiser must prevent it)")
    accf = acc.astype(np.int32).astype(F32)            # float(acc): one rounding
    ws = node["w_scale"].astype(np.float64)
    if is_output:
        scale = (np.float64(s_in) * ws).astype(F32)
        v = accf * scale[None, :, None, None]
        if node["relu"]:
            v = np.maximum(v, F32(0))
        if node["sigmoid"]:
            v = (1.0 / (1.0 + np.exp(-v.astype(np.float64)))).astype(F32)
        return v
    m = (np.float64(s_in) * ws / np.float64(s_out)).astype(F32)
    lo = 0 if node["relu"] else -z_out
    return rne_clamp(accf * m[None, :, None, None], lo, 127 - z_out) + z_out


def run_int8_batch(model, x, keep=False):
    """Runs an int8 model on float32 normalised inputs x [n][c][h][w], exactly as the
    spec says. Maps are held as int32 arrays of q (0..127), except map outputs (float32);
    vectors are float32. Returns {output name: [n][...]}; keep=True: every value."""
    qp = model["qparams"]
    map_outputs = {vid for _, vid in model["outputs"]
                   if model["nodes"][vid - 1]["op"] in MAP_OPS}
    values = [quantise_input(model, x)]
    for k, node in enumerate(model["nodes"], start=1):
        _sum_shape(values, node, k)
        op, ins = node["op"], node["inputs"]
        if op in MAP_OPS:
            if len(ins) > 1:
                q, (s_in, z_in) = _requantise_sum(values, qp, node)
            else:
                q, (s_in, z_in) = values[ins[0]], qp[ins[0]]
            if op == OP_CONV:
                v = int8_conv(q, s_in, z_in, node, qp[k][0], qp[k][1], k in map_outputs)
            elif op == OP_MAXPOOL:
                v = _maxpool(q, k)
            else:
                v = q.repeat(2, axis=2).repeat(2, axis=3)
        elif op == OP_GAP:
            # out[c] = sum over inputs, in order, of float(acc_i[c]) * float(s_i / (h w))
            v = None
            for i in ins:
                s_i, z_i = qp[i]
                n, c, h, w = values[i].shape
                acc = (values[i] - z_i).reshape(n, c, -1).sum(axis=2, dtype=np.int64)
                term = acc.astype(np.int32).astype(F32) * F32(np.float64(s_i) / (h * w))
                v = (F32(0) + term) if v is None else (v + term)
        else:   # dense, on float vectors; summed inputs added in float32 in order
            v = F32(0) + values[ins[0]]
            for i in ins[1:]:
                v = v + values[i]
            v = (v.astype(np.float64) @ node["w"].T + node["b"]).astype(F32)
            if node["relu"]:
                v = np.maximum(v, F32(0))
        values.append(v)
    if keep:
        return values
    return {name: values[vid] for name, vid in model["outputs"]}


def input_f32(model, pixels):
    """The float32 network input an int8 model quantises: the float64 normalisation
    rounded once to float32."""
    return normalise(model, pixels).astype(F32)


def run_batch(model, pixels):
    """Runs the model on pixels [n][channels][rows][cols] (0..255). Returns
    {output name: [n][...]}."""
    x = np.asarray(pixels)
    if x.ndim != 4 or x.shape[1] != model["shape"][0]:
        raise ValueError(f"input shape {x.shape}, model takes {model['shape'][0]} channels")
    if model["precision"] == PRECISION_INT8:
        return run_int8_batch(model, input_f32(model, x))
    return run_float_batch(model, normalise(model, x))


def run(model, pixels):
    """Runs the model on pixels [channels][rows][cols] (0..255, any size the graph
    allows). Returns {output name: array}: [channels][rows][cols] for conv, max pool
    and upsample nodes, [values] after pool or dense."""
    x = np.asarray(pixels, np.float64)
    if x.ndim != 3 or x.shape[0] != model["shape"][0]:
        raise ValueError(f"input shape {x.shape}, model takes {model['shape'][0]} channels")
    return {name: v[0] for name, v in run_batch(model, x[None]).items()}
