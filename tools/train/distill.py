"""Knowledge distillation for train-fer --teacher: the student also learns the averaged
answer of trained FER2013 models (its teachers) on the very images it is shown, augmented
and mixed as they are. Two differently trained Nano-A models averaged beat either alone
by more than a point on PublicTest (docs/results.md); distillation tries to put that into
one network of the same size and cost.

A run keeps copies of its teachers in its checkpoint folder (teachers/), so that a
resumed run is taught by the same files even when the shipped model has changed since."""
import hashlib
import os
import re
import shutil

import torch
import torch.nn.functional as F

import enn
import fer
import pretrain


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def keep_copies(work, given):
    """The teacher files of the run in `work`: on a fresh start, `given` copied into
    work/teachers/ (numbered, in order); on a resumed run, the copies, after checking that
    `given` are the same files. Raises ValueError naming the copies when they are not."""
    folder = os.path.join(work, "teachers")
    kept = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    if kept:
        paths = [os.path.join(folder, k) for k in kept]
        if [_digest(p) for p in paths] != [_digest(g) for g in given]:
            raise ValueError(f"this run was started with other teachers; its copies are "
                             f"{', '.join(paths)} (pass those, or clear {work})")
        return paths
    os.makedirs(folder, exist_ok=True)
    paths = []
    for i, g in enumerate(given):
        # a copy given again (a kept teacher of an earlier run) is numbered once, not twice
        p = os.path.join(folder, f"{i:02d}-{re.sub(r'^[0-9]{2}-', '', os.path.basename(g))}")
        shutil.copyfile(g, p)
        paths.append(p)
    return paths


def load(paths, classes, calibration):
    """Each teacher as a NanoNet in evaluation mode, of the table its file has (Nano-A,
    Nano-B, or a teacher-only one such as Nano-W). Raises ValueError for a file that has
    none of them."""
    teachers = []
    for p in paths:
        # a file of other classes would load, its missing rows left random
        if enn.load(p)["classes"] != list(classes):
            raise ValueError(f"{p}: its classes are not {', '.join(classes)}")
        for variant in ("a", "b", *fer.TEACHER_VARIANTS):
            try:
                model = pretrain.model_from_enn(p, variant, classes, calibration)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"{p}: not a FER2013 model of Nano-A, Nano-B or a teacher "
                             f"variant ({', '.join(fer.TEACHER_VARIANTS)})")
        model.eval()
        for q in model.parameters():
            q.requires_grad_(False)
        teachers.append(model)
    return teachers


@torch.no_grad()
def targets(teachers, x, temperature):
    """The teachers' probabilities at `temperature`, averaged: what the student learns."""
    return sum(torch.softmax(t(x).float() / temperature, 1) for t in teachers) / len(teachers)


def loss(student_logits, soft, temperature):
    """KL(soft || student) at `temperature`, scaled by T^2 so that its gradients keep
    their size as T changes (Hinton et al. 2015)."""
    log_p = F.log_softmax(student_logits / temperature, 1)
    return F.kl_div(log_p, soft, reduction="batchmean") * temperature ** 2


@torch.no_grad()
def ensemble_accuracy(teachers, x, y, batch=256):
    """The teachers' averaged answer's accuracy on (x, y): the ceiling the student aims
    at."""
    pred = torch.cat([targets(teachers, x[i:i + batch], 1.0).argmax(1).cpu()
                      for i in range(0, len(x), batch)]).numpy()
    return float((pred == y).mean())
