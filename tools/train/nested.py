"""The nested choice of a fine-tuning setting (reproduce-ckplus --inner), read back from
the result files: which setting each test fold got, what it scored, and which setting
the all-data model takes; and the recipe folder each setting writes to. Shared by
reproduce-ckplus, its shipping rule and the report."""
import glob
import os

import numpy as np

import common

# the fer-init recipe's settings; each departure is spelled into its recipe's folder name
DEFAULTS = {"lr": 1e-3, "freeze": 0, "mixup": 0.0, "smoothing": 0.0}
SUFFIX = {"lr": "lr", "freeze": "freeze", "mixup": "mix", "smoothing": "ls"}


def recipe_name(v, init, tuning=None):
    """Folder of a recipe's results: ckplus-<v>[-fer-init][-<setting><value>...]."""
    name = f"ckplus-{v}" if init == "scratch" else f"ckplus-{v}-fer-init"
    for key, value in (tuning or DEFAULTS).items():
        if value != DEFAULTS[key]:
            name += f"-{SUFFIX[key]}{value:g}"
    return name


def candidates(v):
    """The fer-init recipe first (it wins ties), then every variant of it with inner
    runs, each as (folder, {fold: inner record})."""
    base = recipe_name(v, "fer")
    folders = [base] + sorted(os.path.basename(d) for d in glob.glob(
        os.path.join(common.RESULTS, base + "-*")) if os.path.isdir(d))
    out = []
    for c in folders:
        inner = {r["fold"]: r for r in (common.read_json(f) for f in glob.glob(
            os.path.join(common.RESULTS, c, "inner-*.json")))}
        if inner:
            out.append((c, inner))
    return out


def choose(v):
    """{"candidates", "folds": [(k, chosen index or None, test accuracy or None)],
    "mean": nested mean over 10 test folds or None, "inner_means": per candidate,
    "final": index of the setting with the best mean inner score (the all-data model's;
    None until every inner run is in)}. Ties go to the earlier candidate."""
    cands = candidates(v)
    folds, tests = [], []
    for k in range(10):
        scores = [inner.get(k) for _, inner in cands]
        chosen = acc = None
        if len(cands) > 1 and all(scores):
            chosen = max(range(len(cands)), key=lambda i: (scores[i]["accuracy"], -i))
            path = os.path.join(common.RESULTS, cands[chosen][0], f"fold-{k}.json")
            if os.path.exists(path):
                acc = common.read_json(path)["accuracy"]
                tests.append(acc)
        folds.append((k, chosen, acc))
    means = [float(np.mean([r["accuracy"] for r in inner.values()])) for _, inner in cands]
    final = None
    if len(cands) > 1 and all(len(inner) == 10 for _, inner in cands):
        final = max(range(len(cands)), key=lambda i: (means[i], -i))
    return {"candidates": cands, "folds": folds, "inner_means": means,
            "mean": float(np.mean(tests)) if len(tests) == 10 else None, "final": final}


def tuning(record):
    """The fine-tuning settings a record was trained with (older records: lr only)."""
    return {k: record.get(k, default) for k, default in DEFAULTS.items()}
