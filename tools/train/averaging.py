"""Weight averaging for train-fer --swa (stochastic weight averaging, Izmailov et al.
2018): the mean of the weights at the ends of the last epochs, whose batch norms'
statistics are then measured again, since the mean of several networks' statistics is
not the statistics of the averaged network."""
import copy

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
