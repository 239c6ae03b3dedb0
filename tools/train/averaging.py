"""Weight averaging for train-fer --swa (stochastic weight averaging, Izmailov et al.
2018): the mean of the weights at the ends of the last epochs, whose batch norms'
statistics are then measured again, since the mean of several networks' statistics is
not the statistics of the averaged network; and the mean of whole models' weights
(tools/train/soup)."""
import copy

import numpy as np
import torch


def update(avg, model, count):
    """The running mean of the parameters after `count` earlier ones (avg None when 0),
    as CPU float tensors (a checkpoint holds it; a run may move between devices)."""
    now = {k: v.detach().float().cpu() for k, v in model.named_parameters()}
    if avg is None or count == 0:
        return now
    return {k: avg[k] + (now[k] - avg[k]) / (count + 1) for k in now}


@torch.no_grad()
def averaged_model(model, avg, x, batch=256):
    """A copy of `model` with the averaged parameters and its batch norms' statistics
    measured on the images x (unaugmented: the images it will be judged on are not),
    left in eval mode."""
    m = copy.deepcopy(model)
    dev = next(m.parameters()).device
    params = dict(m.named_parameters())
    for k, v in avg.items():
        params[k].copy_(v.to(dev))
    norms = [b for b in m.modules() if isinstance(b, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [b.momentum for b in norms]
    for b in norms:
        b.reset_running_stats()
        b.momentum = None               # a cumulative mean over every batch
    m.train()
    for i in range(0, len(x), batch):
        m(x[i:i + batch].to(dev))
    for b, mom in zip(norms, saved):
        b.momentum = mom
    m.eval()
    return m


def mean_of_models(models, names):
    """The uniform mean of the weights of several read .enn models (enn.load dicts) of
    one graph: each convolution's and the dense layer's weights and biases, as the files
    hold them (batch norm folded in, so none is left to measure again). Models fine-tuned
    from one model share its basin, where such a mean is a model of its own (a "model
    soup", Wortsman et al. 2022). Raises ValueError naming the first model whose graph,
    classes or input differ from the first's."""
    if len(models) < 2:
        raise ValueError("a mean needs at least two models")
    first = models[0]
    for m, name in zip(models[1:], names[1:]):
        for key, what in (("shape", "input shape"), ("mean", "input mean"),
                          ("std", "input scale"), ("classes", "class list")):
            if m[key] != first[key]:
                raise ValueError(f"{name}: its {what} differs from {names[0]}'s")
        if len(m["nodes"]) != len(first["nodes"]):
            raise ValueError(f"{name}: {len(m['nodes'])} layers, {names[0]} has "
                             f"{len(first['nodes'])}")
        for i, (a, b) in enumerate(zip(first["nodes"], m["nodes"])):
            same = all(a.get(k) == b.get(k) for k in ("op", "relu", "inputs", "out",
                                                      "kernel", "stride"))
            if not same or ("w" in a and (a["w"].shape != b["w"].shape or
                                          a["b"].shape != b["b"].shape)):
                raise ValueError(f"{name}: layer {i} differs from {names[0]}'s")
    out = copy.deepcopy(first)
    for i, node in enumerate(out["nodes"]):
        if "w" in node:
            for k in ("w", "b"):
                node[k] = np.mean([m["nodes"][i][k].astype(np.float64) for m in models],
                                  axis=0).astype(np.float32)
    return out
