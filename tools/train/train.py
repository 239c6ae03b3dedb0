"""The paper's training recipe: Adam, cross-entropy, 200 epochs, Keras-style step
schedule, and rotation / shift / zoom / horizontal-flip augmentation. Resumable."""
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

import checkpoint as state_file  # "checkpoint" is fit()'s path argument

MEAN, STD = 0.5, 0.25      # written into the model file; the engine applies the same
DEVICE = torch.device("cpu")


def use_device(name):
    """cpu, cuda, or auto (cuda when there is one). Random streams stay on the CPU, so a
    run keeps its augmentation sequence whichever device trains it, and checkpoints load
    on either (results differ in the last bits between devices)."""
    global DEVICE
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: PyTorch sees no CUDA device here")
    DEVICE = torch.device(name)
    return DEVICE


def load(path):
    """A checkpoint (exact or compacted) onto the current device (it may come from the
    other one)."""
    return state_file.load(path, DEVICE)


def load_optimizer(opt, saved):
    """opt.load_state_dict, with a non-capturable Adam's step counts back on the CPU, where
    it keeps them: a state mapped onto the GPU puts them there, and each step then waits
    for the GPU once a parameter (under PyTorch 2), which costs most where GPU runs share
    one card. (A capturable or fused Adam keeps them on the GPU: left as they are.)"""
    opt.load_state_dict(saved)
    for group in opt.param_groups:
        if group.get("capturable") or group.get("fused"):
            continue
        for p in group["params"]:
            slot = opt.state.get(p, {})
            if torch.is_tensor(slot.get("step")):
                slot["step"] = slot["step"].cpu()


def normalise(images):
    x = torch.from_numpy(np.asarray(images, dtype=np.float32) / 255.0)
    return ((x - MEAN) / STD).unsqueeze(1)


def lr_at(epoch, base=1e-3):
    """Keras example schedule, epochs counted from 0: x0.1 after 80, x0.01 after 120,
    x0.001 after 160, x0.0005 after 180 (of the base rate)."""
    for start, factor in ((180, 0.5e-3), (160, 1e-3), (120, 1e-2), (80, 1e-1)):
        if epoch >= start:
            return base * factor
    return base


def cosine(epochs):
    """Cosine decay from the base rate to 0 over `epochs` (a fit() schedule)."""
    return lambda epoch, base=1e-3: base * 0.5 * (1 + np.cos(np.pi * epoch / epochs))


def stretched(epochs):
    """The same step schedule over `epochs` instead of 200 (the breakpoints keep their
    place: 40, 60, 80 and 90 % of the run)."""
    return lambda epoch, base=1e-3: lr_at(epoch * 200 // epochs, base)


def augment(x, gen, rotation=10.0, shift=0.1, zoom=0.1):
    """Random affine per image (Keras ImageDataGenerator's four transforms), nearest fill."""
    n = x.shape[0]
    u = lambda lo, hi: (torch.rand(n, generator=gen) * (hi - lo) + lo).to(x.device)
    angle = u(-rotation, rotation) * math.pi / 180
    scale = u(1 - zoom, 1 + zoom)
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0).to(x.device)
    tx, ty = u(-shift, shift) * 2, u(-shift, shift) * 2
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], 1),
                         torch.stack([sin * flip, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def photometric(x, gen, brightness=0.15, contrast=0.3, gamma=0.3, blur=0.5, sigma=(0.4, 1.0),
                noise=0.04):
    """Random lighting per image, for after augment(): contrast (x [1-c, 1+c] around the
    image's mean), brightness (+- b), gamma (exp of +-g), a light Gaussian blur (3x3,
    sigma in `sigma`, on a `blur` share of the images) and Gaussian noise (sd up to
    `noise`), in [0, 1] pixels: x is un-normalised, changed, clamped and normalised
    again. Every draw comes from `gen` in a fixed number per batch, so a run is exact
    from a restored generator."""
    n = x.shape[0]
    u = lambda lo, hi: (torch.rand(n, generator=gen) * (hi - lo) + lo).view(n, 1, 1, 1) \
        .to(x.device)
    c, b, g = u(1 - contrast, 1 + contrast), u(-brightness, brightness), u(-gamma, gamma)
    blurred = (torch.rand(n, generator=gen) < blur).view(n, 1, 1, 1).to(x.device)
    s = u(*sigma)
    sd = u(0, noise)
    z = torch.randn(x.shape, generator=gen).to(x.device)
    img = (x * STD + MEAN).clamp(0, 1)
    mean = img.mean(dim=(1, 2, 3), keepdim=True)
    img = ((img - mean) * c + mean + b).clamp(0, 1)
    img = img.clamp(min=1e-6) ** torch.exp(g)
    # separable 3-tap Gaussian [a, 1, a] / (1 + 2a), a = exp(-1 / (2 sigma^2)), edges repeated
    a = torch.where(blurred, torch.exp(-0.5 / (s * s)), torch.zeros_like(s))
    for dim in (2, 3):
        p = F.pad(img, (1, 1, 0, 0) if dim == 3 else (0, 0, 1, 1), mode="replicate")
        lo, hi = p.narrow(dim, 0, img.shape[dim]), p.narrow(dim, 2, img.shape[dim])
        img = (img + a * (lo + hi)) / (1 + 2 * a)
    img = (img + sd * z).clamp(0, 1)
    return (img - MEAN) / STD


def fit(model, x, y, epochs=200, batch=32, seed=0, checkpoint=None, log=print,
        class_weights=None, base_lr=1e-3, schedule=lr_at, stats=None, mixup=0.0,
        smoothing=0.0):
    """Trains in place. With `checkpoint`, state is saved every 5 epochs and a later call
    with the same path carries on where the last one stopped. `stats`, a dict, receives
    "seconds": training time over every call that worked on this checkpoint, and
    "seconds_partial" when an older checkpoint did not record its share.
    Beyond the paper: `mixup` > 0 blends each batch with a shuffled copy of itself
    (weights drawn from Beta(mixup, mixup)); `smoothing` is the cross-entropy's label
    smoothing. Parameters with requires_grad off stay as they are (nano.freeze)."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model.to(DEVICE)
    x = x.to(DEVICE)
    if class_weights is not None:
        class_weights = class_weights.to(DEVICE)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=base_lr)
    loss_of = lambda logits, target: F.cross_entropy(logits, target, weight=class_weights,
                                                     label_smoothing=smoothing)
    start, seconds, partial, compacted = 0, 0.0, False, []
    if checkpoint and os.path.exists(checkpoint):
        state = load(checkpoint)
        compacted = state.get("compacted_after", [])
        if compacted:
            log("its state was " + state_file.compaction_text(compacted))
        seconds = state.get("seconds", 0.0)
        partial = "seconds" not in state
        model.load_state_dict(state["model"])
        load_optimizer(opt, state["opt"])
        gen.set_state(state["gen"].cpu())
        start = state["epoch"]
        log(f"resumed at epoch {start} from {checkpoint}")
    y = torch.as_tensor(y).to(DEVICE)
    t_start = time.time()
    for epoch in range(start, epochs):
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = schedule(epoch, base_lr)
        _train_mode(model)
        order = torch.randperm(len(x), generator=gen)
        if mixup > 0:
            # seeded from `gen`, so a resumed run blends as the uninterrupted one would;
            # without mixup the stream stays the paper recipe's
            blend = np.random.default_rng(int(torch.randint(2 ** 31, (1,), generator=gen)))
        total = correct = 0
        loss_sum = 0.0
        for i in range(0, len(x), batch):
            idx = order[i:i + batch]
            if len(idx) < 2:
                continue            # batch norm needs two samples
            xb, yb = augment(x[idx], gen), y[idx]
            if mixup > 0:
                lam = float(blend.beta(mixup, mixup))
                other = torch.randperm(len(idx), generator=gen).to(DEVICE)
                logits = model(lam * xb + (1 - lam) * xb[other])
                loss = lam * loss_of(logits, yb) + (1 - lam) * loss_of(logits, yb[other])
                yb = yb if lam >= 0.5 else yb[other]    # what "train acc" counts
            else:
                logits = model(xb)
                loss = loss_of(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            total += len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        if epoch % 10 == 9 or epoch == epochs - 1:
            log(f"epoch {epoch + 1}/{epochs} loss {loss_sum / total:.4f} "
                f"train acc {correct / total:.4f} lr {schedule(epoch, base_lr):.2e} "
                f"{time.time() - t0:.1f}s")
        if checkpoint and (epoch % 5 == 4 or epoch == epochs - 1):
            state_file.save({"model": model.state_dict(), "opt": opt.state_dict(),
                             "gen": gen.get_state(), "epoch": epoch + 1,
                             "seconds": seconds + time.time() - t_start,
                             "compacted_after": compacted}, checkpoint)
    if stats is not None:
        stats["seconds"] = seconds + time.time() - t_start
        stats["seconds_partial"] = partial
        if compacted:
            stats["state_compacted_after"] = compacted
    return model


def _train_mode(model):
    """Training mode, except batch norms whose parameters are frozen: those keep the
    statistics they have, or the frozen layers would still drift."""
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.requires_grad:
            m.eval()


@torch.no_grad()
def predict(model, x, batch=256):
    """Logits on the CPU, computed on whatever device the model is on."""
    model.eval()
    dev = next(model.parameters()).device
    return torch.cat([model(x[i:i + batch].to(dev)).cpu() for i in range(0, len(x), batch)])


@torch.no_grad()
def predict_mirrored(model, x, batch=256):
    """Probabilities averaged over each image and its mirror image: what the engine does
    with mirror averaging on (enn_net_set_mirror)."""
    p = torch.softmax(predict(model, x, batch), 1)
    return (p + torch.softmax(predict(model, torch.flip(x, dims=[3]), batch), 1)) / 2
