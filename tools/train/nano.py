"""EmotionNet Nano architectures as layer tables, and the PyTorch model built from them.

A table is a list of layers in graph order. Each layer names its inputs; several inputs
are summed element-wise before the layer (the paper's selective long-range
connectivity). The same table drives training, counting and export, so the C engine
sees exactly the graph that was trained.
"""
from dataclasses import dataclass

import torch
import torch.nn as nn


@dataclass(frozen=True)
class Layer:
    name: str
    kind: str           # "conv" or "head" (global average pool + fully connected)
    inputs: tuple
    kernel: int = 3
    out: int = 0
    stride: int = 1
    relu: bool = True


def _table(t1, t2, t3, m):
    """Layer table of the public reconstruction, with trunk widths t1, t2, t3 (the
    channels of the summed long-range paths at 48, 24 and 12 pixels) and the in-between
    widths m (8 values, for c2 c4 c6 d2 d4 d6 e2 e4)."""
    c2, c4, c6, d2, d4, d6, e2, e4 = m
    L = Layer
    return [
        L("c1", "conv", ("input",), 3, t1),
        L("c2", "conv", ("c1",), 3, c2),
        L("c3", "conv", ("c2",), 3, t1),
        L("c4", "conv", ("c1", "c3"), 3, c4),
        L("c5", "conv", ("c4",), 3, t1),
        L("c6", "conv", ("c1", "c3", "c5"), 3, c6),
        L("c7", "conv", ("c6",), 3, t1),
        L("c8", "conv", ("c1", "c5", "c7"), 3, t2, 2),
        L("p1", "conv", ("c1", "c3", "c5"), 1, t2, 2, relu=False),
        L("d1", "conv", ("c8",), 3, t2),
        L("d2", "conv", ("d1", "p1"), 3, d2),
        L("d3", "conv", ("d2",), 3, t2),
        L("d4", "conv", ("d1", "d3"), 3, d4),
        L("d5", "conv", ("d4",), 3, t2),
        L("d6", "conv", ("d1", "d3", "d5", "p1"), 3, d6, 2),
        L("p2", "conv", ("d3", "d5", "p1", "c8"), 1, t3, 2, relu=False),
        L("e1", "conv", ("d6",), 3, t3),
        L("e2", "conv", ("e1", "p2"), 3, e2),
        L("e3", "conv", ("e2",), 3, t3),
        L("e4", "conv", ("e1", "e3", "p2"), 3, e4),
        L("e5", "conv", ("e4",), 3, t3),
        L("head", "head", ("e1", "e3", "e5", "p2")),
    ]


ARCHS = {
    # The public reading of the paper's figure, unchanged (about 141 K parameters).
    "recon": _table(11, 27, 64, (9, 8, 7, 19, 26, 36, 39, 24)),
    # Nano-A: wider trunks at 24 and 12 pixels, where the MACs are cheap (<= 232 K).
    "a": _table(12, 32, 80, (10, 10, 10, 24, 32, 48, 48, 32)),
    # Nano-B: the reconstruction with e2 narrowed from 39 to 34 to fit <= 136 K.
    "b": _table(11, 27, 64, (9, 8, 7, 19, 26, 36, 34, 24)),
    # Nano-W: Nano-A at 1.5 times every width (492 K parameters, 146.5 M MACs), over both
    # budgets: a teacher for distillation (train-fer --variant w), never shipped.
    "w": _table(18, 48, 120, (15, 15, 15, 36, 48, 72, 72, 48)),
}
BUDGET = {"a": 232_000, "b": 136_000}


def count(table, in_ch=1, size=48, classes=7):
    """Parameters and multiply-accumulates of a table (BN folded, as exported)."""
    ch, hw = {"input": in_ch}, {"input": size}
    params = macs = 0
    for l in table:
        c_in = ch[l.inputs[0]]
        s_in = hw[l.inputs[0]]
        if l.kind == "head":
            params += c_in * classes + classes
            macs += c_in * classes
            continue
        s_out = s_in // l.stride
        params += l.out * c_in * l.kernel ** 2 + l.out
        macs += l.out * c_in * l.kernel ** 2 * s_out * s_out
        ch[l.name], hw[l.name] = l.out, s_out
    return params, macs


def freeze(model, size, in_size=48):
    """Stops training the layers whose output map is `size` x `size` pixels (convolution
    and batch norm). Returns their names."""
    hw, names = {"input": in_size}, []
    for l in model.table:
        if l.kind != "conv":
            continue
        hw[l.name] = hw[l.inputs[0]] // l.stride
        if hw[l.name] == size:
            for p in (*model.convs[l.name].parameters(), *model.norms[l.name].parameters()):
                p.requires_grad_(False)
            names.append(l.name)
    if not names:
        raise ValueError(f"no layer of the table outputs {size} x {size}")
    return names


def check(table, in_ch=1, size=48):
    """Raise ValueError when the inputs of a summed connection disagree in shape."""
    shape = {"input": (in_ch, size)}
    for l in table:
        shapes = {shape[i] for i in l.inputs}
        if len(shapes) != 1:
            raise ValueError(f"{l.name}: inputs {l.inputs} have shapes {shapes}")
        c, s = shapes.pop()
        if l.kind == "conv":
            shape[l.name] = (l.out, s // l.stride)


class NanoNet(nn.Module):
    """Convolution + batch norm (+ ReLU) per table row; sums of inputs before each row."""

    def __init__(self, table, classes, in_ch=1, size=48):
        super().__init__()
        check(table, in_ch, size)
        self.table = table
        ch = {"input": in_ch}
        self.convs = nn.ModuleDict()
        self.norms = nn.ModuleDict()
        for l in table:
            c_in = ch[l.inputs[0]]
            if l.kind == "head":
                self.fc = nn.Linear(c_in, classes)
                continue
            self.convs[l.name] = nn.Conv2d(c_in, l.out, l.kernel, l.stride,
                                           padding=l.kernel // 2, bias=False)
            self.norms[l.name] = nn.BatchNorm2d(l.out)
            ch[l.name] = l.out

    def forward(self, x):
        out = {"input": x}
        for l in self.table:
            s = out[l.inputs[0]]
            for name in l.inputs[1:]:
                s = s + out[name]
            if l.kind == "head":
                return self.fc(s.mean(dim=(2, 3)))
            y = self.norms[l.name](self.convs[l.name](s))
            out[l.name] = torch.relu(y) if l.relu else y
        raise ValueError("table has no head")
