"""Subject-independent folds for CK+, saved as CSV so everyone trains on the same split."""
import csv
import os
import random

K = 10                  # folds
FOLDS_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ckplus-folds.csv")


def make(subjects, k=K, seed=2021):
    """Greedy balance: subjects in a seeded random order, largest first, each to the
    fold with the fewest images so far."""
    counts = {}
    for s in subjects:
        counts[s] = counts.get(s, 0) + 1
    order = sorted(counts)
    random.Random(seed).shuffle(order)
    order.sort(key=lambda s: -counts[s])
    size, fold_of = [0] * k, {}
    for s in order:
        f = min(range(k), key=lambda i: (size[i], i))
        fold_of[s] = f
        size[f] += counts[s]
    return fold_of


def load(subjects, path=FOLDS_CSV):
    if not os.path.exists(path):
        fold_of = make(subjects)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["subject", "fold"])
            for s in sorted(fold_of):
                w.writerow([s, fold_of[s]])
    with open(path, newline="") as f:
        fold_of = {r["subject"]: int(r["fold"]) for r in csv.DictReader(f)}
    missing = set(subjects) - set(fold_of)
    if missing:
        raise SystemExit(f"{path} has no fold for subjects {sorted(missing)[:5]}")
    return [fold_of[s] for s in subjects]


def parse(spec):
    """"0-4" or "0,2,4" -> sorted fold numbers, each in 0..9 (ValueError otherwise)."""
    out = set()
    for part in spec.split(","):
        lo, dash, hi = part.partition("-")
        hi = hi if dash else lo
        if not (lo.isdigit() and hi.isdigit() and int(lo) <= int(hi) < K):
            raise ValueError(f"CK+ folds {spec!r}: expected numbers 0-9 like 0-4 or 0,2,4")
        out.update(range(int(lo), int(hi) + 1))
    return sorted(out)


def text(folds):
    """The one spelling of a fold list: runs as lo-hi, the rest by commas (0-4, 0,2,4)."""
    runs, out = [], []
    for f in folds:
        if runs and f == runs[-1][1] + 1:
            runs[-1][1] = f
        else:
            runs.append([f, f])
    for lo, hi in runs:
        out += [str(lo)] if lo == hi else [f"{lo},{hi}"] if hi == lo + 1 else [f"{lo}-{hi}"]
    return ",".join(out)


def inner_split(fold_of, k):
    """The inner validation run k of the nested protocol: (train, score) masks of a
    numpy array of fold numbers, trained without the folds k and k+1, scored on k+1;
    fold k stays unseen."""
    score = fold_of == (k + 1) % K
    return (fold_of != k) & ~score, score
