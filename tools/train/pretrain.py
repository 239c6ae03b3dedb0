"""Starts a model from a trained .enn file instead of random weights (transfer learning:
the CK+ models from the FER2013 default model).

An .enn file holds convolutions with batch norm folded in. To train on, each norm is
unfolded again around statistics measured on the new data, chosen so that the network
computes exactly what the file computes in evaluation mode and nearly that in training
mode, where batch norm uses each batch's statistics.
"""
import torch

import enn
import nano
import train

OP_CONV, OP_DENSE = 1, 3
# CK+ has contempt where FER2013 has neutral: the nearest face, a start for that row
CKPLUS_FROM_FER = {"contempt": "neutral"}


def model_from_enn(path, variant, classes, calibration):
    """A NanoNet of `variant` computing what `path` computes (in evaluation mode); `path`
    may also be a model already read (enn.load's dict)."""
    model = nano.NanoNet(nano.ARCHS[variant], len(classes)).to(train.DEVICE)
    return init_from_enn(model, path, classes, calibration)


def init_from_enn(model, path, classes, calibration, class_source=None):
    """Copies the weights of `path` into `model` (a NanoNet of the same table). The head
    keeps the file's row for each class of `classes` found there, or the row named by
    `class_source` (a dict class -> class in the file); any other row stays random.
    `calibration` is a batch of normalised training images, used only for statistics.
    Raises ValueError when the file's graph is not the model's. `path` may be an
    enn.load dict instead (named by its "name" in errors)."""
    m = path if isinstance(path, dict) else enn.load(path)
    if isinstance(path, dict):
        path = m["name"]
    convs = [n for n in m["nodes"] if n["op"] == OP_CONV]
    dense = [n for n in m["nodes"] if n["op"] == OP_DENSE]
    layers = [l for l in model.table if l.kind == "conv"]
    if len(convs) != len(layers) or len(dense) != 1:
        raise ValueError(f"{path}: {len(convs)} convolutions, the model has {len(layers)}")
    with torch.no_grad():
        for layer, node in zip(layers, convs):
            conv, norm = model.convs[layer.name], model.norms[layer.name]
            if node["w"].size != conv.weight.numel() or node["relu"] != layer.relu:
                raise ValueError(f"{path}: layer {layer.name} differs from the model's")
            conv.weight.copy_(torch.from_numpy(node["w"]).reshape(conv.weight.shape))
            # identity norm plus the folded bias: evaluation mode now equals the file
            norm.running_mean.zero_()
            norm.running_var.fill_(1 - norm.eps)
            norm.weight.fill_(1)
            norm.bias.copy_(torch.from_numpy(node["b"]))
        _copy_head(model.fc, dense[0], m["classes"], classes, class_source or {}, path)
        stats = _conv_statistics(model, calibration)
        for layer, node in zip(layers, convs):
            norm = model.norms[layer.name]
            mean, var = stats[layer.name]
            # (z - mean) / sqrt(var + eps) * sqrt(var + eps) + mean + b == z + b
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(var)
            norm.weight.copy_(torch.sqrt(var + norm.eps))
            norm.bias.copy_(mean + torch.from_numpy(node["b"]).to(mean.device))
    return model


def _copy_head(fc, node, file_classes, classes, class_source, path):
    w = torch.from_numpy(node["w"]).reshape(len(file_classes), -1)
    if w.shape[1] != fc.in_features:
        raise ValueError(f"{path}: head takes {w.shape[1]} features, the model's "
                         f"{fc.in_features}")
    b = torch.from_numpy(node["b"])
    for row, name in enumerate(classes):
        source = class_source.get(name, name)
        if source in file_classes:
            fc.weight[row].copy_(w[file_classes.index(source)])
            fc.bias[row].copy_(b[file_classes.index(source)])


def _conv_statistics(model, x, batch=256):
    """Per-channel mean and variance of each convolution's output (before its norm) over
    `x`, in evaluation mode."""
    sums, squares, count = {}, {}, {}
    hooks = []
    for name, conv in model.convs.items():
        def hook(_module, _inputs, out, name=name):
            o = out.detach().double()
            sums[name] = sums.get(name, 0) + o.sum(dim=(0, 2, 3))
            squares[name] = squares.get(name, 0) + (o * o).sum(dim=(0, 2, 3))
            count[name] = count.get(name, 0) + o.shape[0] * o.shape[2] * o.shape[3]
        hooks.append(conv.register_forward_hook(hook))
    model.eval()
    dev = next(model.parameters()).device
    for i in range(0, len(x), batch):
        model(x[i:i + batch].to(dev))
    for h in hooks:
        h.remove()
    out = {}
    for name in sums:
        mean = sums[name] / count[name]
        var = (squares[name] / count[name] - mean * mean).clamp(min=0)
        out[name] = (mean.float(), var.float())
    return out
