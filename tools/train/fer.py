"""FER2013 recipes of tools/train/train-fer beside the default one: the folder each
recipe writes to, class-balanced loss weights, per-class recall, and the rule that
decides whether a candidate replaces the shipped model. Shared by train-fer, the report
and the tests."""
import hashlib
import os
import re

import numpy as np

import common

# the default recipe's settings (train-fer with no new flag); each departure is spelled
# into the recipe's name, which names its checkpoint and record folders
DEFAULTS = {"init": None, "lr": 1e-3, "balance": False, "smoothing": 0.0, "mixup": 0.0,
            "photometric": False, "ckplus_folds": None, "ckplus_repeat": 1,
            "product_crops": 0.0, "teachers": None, "distill": 0.5, "temperature": 2.0,
            "holdout": 0.0, "offset_floor": 0.5, "offset_bags": 0, "swa": 0, "seed": 11,
            "boost": None, "tag": ""}
# variants trained only to teach the shipped ones (--teacher): over every budget, never
# shipped; a finished run keeps its model in train-state/teachers/
TEACHER_VARIANTS = ("w",)
HOLDOUT_SEED = 21       # which Training faces --holdout keeps back: the same in every run


def recipe_name(variant, epochs, settings):
    """"" for the default recipe (its folders stay emotionnet-nano-<v>-fer and fer/ or
    fer-b/, whatever --epochs says, as before the levers existed; a teacher variant has no
    default recipe: it is never the shipped model); otherwise
    init[-<file>]-e<epochs>[-lr<x>][-bal][-b<class><factor>...][-ls<x>][-mix<x>][-photo]
    [-ck<folds>[x<repeat>]][-pc<p>][-kd<teachers>a<weight>t<temperature>]
    [-ho<fraction>[f<floor>][b<bags>]][-swa<epochs>][-s<seed>][-<tag>]."""
    s = {**DEFAULTS, **settings}
    if all(s[k] == DEFAULTS[k] for k in DEFAULTS) and variant not in TEACHER_VARIANTS:
        return ""
    parts = []
    if s["init"]:
        stem = os.path.splitext(os.path.basename(s["init"]))[0]
        parts.append("init" if stem == f"emotionnet-nano-{variant}-fer" else f"init-{stem}")
    parts.append(f"e{epochs}")
    if s["lr"] != DEFAULTS["lr"]:
        parts.append(f"lr{s['lr']:g}")
    if s["balance"]:
        parts.append("bal")
    for c, factor in (s["boost"] or {}).items():
        parts.append(f"b{c}{factor:g}")
    if s["smoothing"]:
        parts.append(f"ls{s['smoothing']:g}")
    if s["mixup"]:
        parts.append(f"mix{s['mixup']:g}")
    if s["photometric"]:
        parts.append("photo")
    if s["ckplus_folds"]:
        parts.append(f"ck{s['ckplus_folds']}" +
                     (f"x{s['ckplus_repeat']}" if s["ckplus_repeat"] != 1 else ""))
    if s["product_crops"]:
        parts.append(f"pc{s['product_crops']:g}")
    if s["teachers"]:
        parts.append(f"kd{len(s['teachers'])}a{s['distill']:g}t{s['temperature']:g}")
    if s["holdout"]:
        parts.append(f"ho{s['holdout']:g}" + (f"f{s['offset_floor']:g}" if s["offset_floor"]
                                               != DEFAULTS["offset_floor"] else "") +
                     (f"b{s['offset_bags']}" if s["offset_bags"] else ""))
    if s.get("swa"):
        parts.append(f"swa{s['swa']}")
    if s["seed"] != DEFAULTS["seed"]:
        parts.append(f"s{s['seed']}")
    if s["tag"]:
        parts.append(s["tag"])
    return "-".join(parts)


TAG_MAX = 24
# words recipe_name spells for a lever (s2: --seed 2, bfear1.4: --boost); a tag that
# looked like one would make one run's name another's
LEVER_WORD = re.compile(r"init|bal|photo|(e|s|swa|lr|ls|mix|ck|pc|kd|ho)\d.*|b[a-z]+\d.*")


def parse_tag(text):
    """--tag's word, checked: lower-case letters and digits, starting with a letter, at
    most TAG_MAX, not a lever's word; it names what the recipe's name cannot spell (which
    teacher files)."""
    if not (0 < len(text) <= TAG_MAX and text[0].isascii() and text[0].islower()
            and all(c.isascii() and (c.islower() or c.isdigit()) for c in text)):
        raise ValueError(f"{text!r}: a word of lower-case letters and digits, starting "
                         f"with a letter, at most {TAG_MAX} characters")
    if LEVER_WORD.fullmatch(text):
        raise ValueError(f"{text!r}: a lever's word in recipe names (as s2 is --seed 2); "
                         "choose another")
    return text


def finished_run(variant, recipe):
    """The record of a finished run of this recipe, or None: a new run under the same name
    would overwrite it and its kept candidate. The default recipe ("") is exempt: its
    record is the shipped model's, which a better run of it is meant to replace."""
    if not recipe:
        return None
    path = os.path.join(record_folder(variant, recipe), "result.json")
    return path if os.path.exists(path) else None


def model_name(base, recipe):
    """The name inside a candidate's .enn file: base-recipe, or, past the format's limit
    (a long --init file name), its first bytes and a digest of the recipe."""
    import enn          # here: fer is read without torch (report.py), enn needs it
    full = f"{base}-{recipe}" if recipe else base
    if len(full) <= enn.NAME_MAX:
        return full
    digest = hashlib.sha1(recipe.encode()).hexdigest()[:8]
    return f"{full[:enn.NAME_MAX - len(digest) - 1]}-{digest}"


def state_folder(variant, recipe):
    name = f"emotionnet-nano-{variant}-fer"
    return os.path.join(common.STATE, f"{name}-{recipe}" if recipe else name)


def teacher_file(variant, recipe):
    """Where a finished teacher-only run (TEACHER_VARIANTS) keeps its model."""
    return os.path.join(common.STATE, "teachers",
                        f"emotionnet-nano-{variant}-fer-{recipe}.enn")


def candidate_file(variant, recipe):
    """Where a finished run's candidate that did not ship is kept (a shipped one is in
    models/, a teacher's in teachers/): a later run's --init or --teacher, or an ingredient
    of a weight average of fine-tunes from one model."""
    return os.path.join(common.STATE, "candidates",
                        f"emotionnet-nano-{variant}-fer-{recipe}.enn")


def record_folder(variant, recipe):
    """fer/ (fer-b/) for the default recipe, fer[-b]-<recipe>/ for any other."""
    base = common.fer_results(variant)
    return f"{base}-{recipe}" if recipe else base


def balance_weights(labels, n_classes):
    """Cross-entropy class weights proportional to n_c^-0.5, mean 1 over the classes."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes).astype(np.float64)
    if (counts == 0).any():
        raise ValueError("a class has no training image")
    w = counts ** -0.5
    return w * n_classes / w.sum()


def parse_boost(texts, classes):
    """--boost CLASS=FACTOR (repeatable) as {class: factor} in the classes' order, so
    that one set of boosts has one recipe name. Raises ValueError naming what is wrong."""
    boost = {}
    for text in texts or ():
        c, sep, value = text.partition("=")
        if not sep or c not in classes:
            raise ValueError(f"{text!r}: CLASS=FACTOR, CLASS one of {', '.join(classes)}")
        if c in boost:
            raise ValueError(f"{c} is boosted twice")
        try:
            factor = float(value)
        except ValueError:
            factor = float("nan")
        if not 0 < factor <= 10 or factor == 1:
            raise ValueError(f"{text!r}: a factor above 0, at most 10, and not 1")
        boost[c] = factor
    return {c: boost[c] for c in classes if c in boost} or None


def class_weights(labels, classes, balance, boost):
    """The cross-entropy class weights of a run, or None (all equal): --balance's
    n_c^-0.5, each --boost class's times its factor, then scaled to mean 1 so that the
    loss keeps its size against the distillation term and the learning rate."""
    if not balance and not boost:
        return None
    w = balance_weights(labels, len(classes)) if balance else np.ones(len(classes))
    for c, factor in (boost or {}).items():
        w[classes.index(c)] *= factor
    return w * len(classes) / w.sum()


def holdout_mask(labels, fraction):
    """Which of the Training faces (their labels, in order) train-fer --holdout keeps back
    from fitting: round(fraction * n_c) of each class, at least one, drawn with a fixed
    seed, so that a resumed run and every rerun hold back the same faces. Raises
    ValueError when a class has too few faces to keep one back and fit on another."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(HOLDOUT_SEED)
    held = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        rows = np.flatnonzero(labels == c)
        k = max(1, int(round(fraction * len(rows))))
        if k >= len(rows):
            raise ValueError(f"class {c} has {len(rows)} Training faces: too few to hold "
                             f"back {fraction:g} of them and fit on the rest")
        held[rng.permutation(rows)[:k]] = True
    return held


def recall(confusion):
    """Per-class recall (row diagonal over row sum) of a confusion matrix; None for an
    empty row."""
    return [row[i] / sum(row) if sum(row) else None for i, row in enumerate(confusion)]


def accuracy_of(confusion):
    return sum(row[i] for i, row in enumerate(confusion)) / sum(map(sum, confusion))


def ship_decision(candidate, current):
    """Whether a candidate replaces the shipped model. Each argument is
    {"accuracy": PublicTest overall, "recall": PublicTest per-class recall}, measured by
    the same code. It ships only if it beats the current model on both: overall
    accuracy, and its lowest class recall (the per-class floor). Returns
    (ships, reason)."""
    acc, cur_acc = candidate["accuracy"], current["accuracy"]
    floor, cur_floor = min(candidate["recall"]), min(current["recall"])
    facts = (f"PublicTest {100 * acc:.2f} % against {100 * cur_acc:.2f} %, lowest class "
             f"recall {100 * floor:.1f} % against {100 * cur_floor:.1f} %")
    if acc <= cur_acc:
        return False, "not shipped: overall accuracy does not beat the current model's; " + facts
    if floor <= cur_floor:
        return False, "not shipped: the per-class floor does not beat the current model's; " \
            + facts
    return True, "shipped: beats the current model overall and on the per-class floor; " + facts
