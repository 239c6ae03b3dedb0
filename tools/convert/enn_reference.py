"""A small pure-numpy reader and executor of `.enn` files, versions 1.0 and 2.0
(docs/model-format.md), written from the specification to check writers such as
onnx2enn against other runtimes. Computes in float64; slow, but plain.

    m = load("models/face_detection_yunet_2023mar.enn")
    outs = run(m, pixels)    # pixels: [channels][rows][cols], 0..255
    outs["bbox_8"]           # [channels][rows][cols]
"""
import struct
import zlib

import numpy as np

OP_CONV, OP_GAP, OP_DENSE, OP_MAXPOOL, OP_UPSAMPLE = 1, 2, 3, 4, 5


class FormatError(ValueError):
    pass


def load(src):
    """Parses an .enn file (path or bytes). Raises FormatError naming the problem."""
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

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, payload, off)
        off += struct.calcsize("<" + fmt)
        return v

    def string():
        (n,) = take("H")
        return take(f"{n}s")[0].decode("ascii")

    def tensor(count):
        dtype, n = take("BxxxI")
        if dtype != 0:
            raise FormatError(f"tensor dtype {dtype} not supported")
        if n != count:
            raise FormatError(f"tensor holds {n} values, shape implies {count}")
        a = np.frombuffer(payload, "<f4", n, off).astype(np.float64)
        take(f"{4 * n}x")
        if not np.isfinite(a).all():
            raise FormatError("non-finite weight")
        return a

    try:
        name = string()
        c, h, w = take("HHH")
        mean, std = take("ff")
        (nc,) = take("H")
        if nc == 0 and major == 1:
            raise FormatError("class count 0 in a version-1 file")
        classes = [string() for _ in range(nc)]
        (nn,) = take("H")
        nodes, channels = [], [c]
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
                node["w"] = tensor(out * (cin // groups) * kern * kern).reshape(
                    out, cin // groups, kern, kern)
                node["b"] = tensor(out)
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
                node["w"] = tensor(out * cin).reshape(out, cin)
                node["b"] = tensor(out)
                channels.append(out)
            else:
                raise FormatError(f"node {k}: op {op} not supported in version {major}")
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
    except struct.error:
        raise FormatError("truncated file") from None
    if off != len(payload):
        raise FormatError(f"{len(payload) - off} bytes left over")
    return {"version": (major, minor), "name": name, "shape": (c, h, w), "mean": mean,
            "std": std, "classes": classes, "nodes": nodes, "outputs": outputs}


def _conv(x, node):
    c, h, w = x.shape
    k, s, g, wt = node["kernel"], node["stride"], node["groups"], node["w"]
    out = node["out"]
    p = k // 2
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    xp = np.pad(x, ((0, 0), (p, p), (p, p)))
    ig, og = c // g, out // g
    y = np.zeros((g, og, oh * ow))
    wg = wt.reshape(g, og, ig, k, k)
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, ky:ky + s * (oh - 1) + 1:s, kx:kx + s * (ow - 1) + 1:s]
            y += np.matmul(wg[:, :, :, ky, kx], patch.reshape(g, ig, oh * ow))
    return y.reshape(out, oh, ow) + node["b"][:, None, None]


def run(model, pixels):
    """Runs the model on pixels [channels][rows][cols] (0..255, any size the graph
    allows). Returns {output name: array}: [channels][rows][cols] for conv, max pool
    and upsample nodes, [values] after pool or dense."""
    x = np.asarray(pixels, np.float64)
    if x.ndim != 3 or x.shape[0] != model["shape"][0]:
        raise ValueError(f"input shape {x.shape}, model takes {model['shape'][0]} channels")
    values = [(x / 255.0 - model["mean"]) / model["std"]]
    for k, node in enumerate(model["nodes"], start=1):
        shapes = {values[i].shape for i in node["inputs"]}
        if len(shapes) != 1:
            raise ValueError(f"node {k}: summed inputs differ in shape {shapes}")
        v = sum(values[i] for i in node["inputs"])
        op = node["op"]
        if op == OP_CONV:
            v = _conv(v, node)
        elif op == OP_MAXPOOL:
            c, h, w = v.shape
            if h < 2 or w < 2:
                raise ValueError(f"node {k}: pools a {h}x{w} map to nothing")
            v = v[:, :h // 2 * 2, :w // 2 * 2].reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))
        elif op == OP_UPSAMPLE:
            v = v.repeat(2, axis=1).repeat(2, axis=2)
        elif op == OP_GAP:
            v = v.reshape(v.shape[0], -1).mean(axis=1)
        elif op == OP_DENSE:
            v = node["w"] @ v + node["b"]
        if node["relu"]:
            v = np.maximum(v, 0.0)
        if node["sigmoid"]:
            v = 1.0 / (1.0 + np.exp(-v))
        values.append(v)
    return {name: values[vid] for name, vid in model["outputs"]}
