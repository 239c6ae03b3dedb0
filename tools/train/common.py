"""Small helpers shared by the training commands."""
import glob
import json
import os
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
RESULTS = os.path.join(ROOT, "docs", "results")
BUILD = os.path.join(ROOT, "build", "train")
# Resumable state of long runs. Committed on purpose: sessions on this project do not
# share a disk, so a run that spans sessions must carry its checkpoints in the repo.
# A run deletes its own state when it completes.
STATE = os.path.join(ROOT, "train-state")


def fer_results(variant):
    """Folder of a FER2013 model's record: the default model's keeps fer/."""
    return os.path.join(RESULTS, "fer" if variant == "a" else f"fer-{variant}")


def fold_records(run):
    """The finished test folds of recipe folder `run` (fold-K.json), in fold order."""
    files = glob.glob(os.path.join(RESULTS, run, "fold-*.json"))
    return sorted((read_json(f) for f in files), key=lambda r: r["fold"])


def git_rev():
    try:
        return subprocess.check_output(["git", "-C", ROOT, "describe", "--always", "--dirty"],
                                       text=True, stderr=subprocess.DEVNULL).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def write_json(path, obj):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path):
    with open(path) as f:
        return json.load(f)


def confusion(truth, pred, n):
    m = [[0] * n for _ in range(n)]
    for t, p in zip(truth, pred):
        m[t][p] += 1
    return m
