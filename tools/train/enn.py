"""Writes a trained NanoNet as an .enn model file (format: docs/model-format.md).

Batch norm is folded into the convolutions, so the file holds plain conv + bias.
"""
import struct
import zlib

import numpy as np
import torch

MAGIC = b"ENNM"
VERSION = (1, 0)
OP_CONV, OP_GAP, OP_DENSE = 1, 2, 3
DTYPE_F32 = 0
FLAG_RELU = 1


def fold_bn(conv, bn):
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    w = conv.weight.detach() * scale[:, None, None, None]
    b = bn.bias.detach() - bn.running_mean * scale
    return w.cpu().numpy().astype("<f4"), b.cpu().numpy().astype("<f4")


NAME_MAX = 128          # bytes of a model name (docs/model-format.md; the engine refuses more)


def check_name(name):
    """Raises ValueError unless name is what the format allows: 1..NAME_MAX bytes of
    printable ASCII."""
    b = name.encode("utf-8")
    if not 1 <= len(b) <= NAME_MAX or not all(32 <= c < 127 for c in b):
        raise ValueError(f"model name {name!r}: {len(b)} bytes (allowed 1..{NAME_MAX} of "
                         "printable ASCII)")


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<H", len(b)) + b


def _tensor(a):
    a = np.ascontiguousarray(a, dtype="<f4").ravel()
    return struct.pack("<BxxxI", DTYPE_F32, a.size) + a.tobytes()


def to_bytes(model, name, classes, mean, std, size=48, in_ch=1):
    check_name(name)
    model = model.eval()
    ids = {"input": 0}
    nodes = []
    for layer in model.table:
        refs = [ids[i] for i in layer.inputs]
        head = lambda op, flags: struct.pack("<BBH", op, flags, len(refs)) + \
            struct.pack(f"<{len(refs)}H", *refs)
        if layer.kind == "conv":
            w, b = fold_bn(model.convs[layer.name], model.norms[layer.name])
            nodes.append(head(OP_CONV, FLAG_RELU if layer.relu else 0) +
                         struct.pack("<HBB", layer.out, layer.kernel, layer.stride) +
                         _tensor(w) + _tensor(b))
            ids[layer.name] = len(nodes)
        else:
            nodes.append(head(OP_GAP, 0))
            gap = len(nodes)
            w = model.fc.weight.detach().cpu().numpy()
            b = model.fc.bias.detach().cpu().numpy()
            nodes.append(struct.pack("<BBHH", OP_DENSE, 0, 1, gap) +
                         struct.pack("<H", w.shape[0]) + _tensor(w) + _tensor(b))
    payload = _str(name) + struct.pack("<HHHff", in_ch, size, size, mean, std)
    payload += struct.pack("<H", len(classes)) + b"".join(_str(c) for c in classes)
    payload += struct.pack("<H", len(nodes)) + b"".join(nodes)
    header = MAGIC + struct.pack("<HHII", VERSION[0], VERSION[1], len(payload),
                                 zlib.crc32(payload) & 0xFFFFFFFF)
    return header + payload


def save(path, model, name, classes, mean, std):
    with open(path, "wb") as f:
        f.write(to_bytes(model, name, classes, mean, std))


def rename(path, name):
    """Gives the file at path another model name, every other byte of its payload kept."""
    check_name(name)
    with open(path, "rb") as f:
        data = f.read()
    load(path)                                  # a whole, valid file
    (n,) = struct.unpack_from("<H", data, 16)
    payload = _str(name) + data[18 + n:]
    header = data[:8] + struct.pack("<II", len(payload), zlib.crc32(payload) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(header + payload)


def save_onnx(path, model, size=48):
    model = model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, size, size), path, input_names=["input"],
                      output_names=["logits"], opset_version=11)


def load(path):
    """Reads an .enn file back: name, shape, mean, std, classes and nodes (each with op,
    relu, inputs, and for conv/dense out, w, b). Raises ValueError naming the problem."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"ENNM":
        raise ValueError(f"{path}: not an .enn file")
    if len(data) < 16:
        raise ValueError(f"{path}: truncated")
    plen, crc = struct.unpack_from("<II", data, 8)
    payload = data[16:]
    if len(payload) != plen or zlib.crc32(payload) & 0xFFFFFFFF != crc:
        raise ValueError(f"{path}: length or checksum mismatch")
    off = 0

    def take(fmt):
        nonlocal off
        v = struct.unpack_from("<" + fmt, payload, off)
        off += struct.calcsize("<" + fmt)
        return v

    def string():
        (n,) = take("H")
        return take(f"{n}s")[0].decode()

    def tensor():
        dtype, count = take("BxxxI")
        if dtype != 0:
            raise ValueError(f"{path}: only f32 tensors are read")
        return np.array(take(f"{count}f"), dtype=np.float32)

    try:
        name = string()
        c, h, w = take("HHH")
        mean, std = take("ff")
        (nc,) = take("H")
        classes = [string() for _ in range(nc)]
        (nn,) = take("H")
        nodes = []
        for _ in range(nn):
            op, flags, n_in = take("BBH")
            inputs = list(take(f"{n_in}H"))
            node = {"op": op, "relu": bool(flags & 1), "inputs": inputs}
            if op == 1:
                node["out"], node["kernel"], node["stride"] = take("HBB")
                node["w"], node["b"] = tensor(), tensor()
            elif op == 3:
                (node["out"],) = take("H")
                node["w"], node["b"] = tensor(), tensor()
            nodes.append(node)
    except struct.error:
        raise ValueError(f"{path}: truncated") from None
    return {"name": name, "shape": (c, h, w), "mean": mean, "std": std, "classes": classes,
            "nodes": nodes}
