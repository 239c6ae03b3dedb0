"""Posed faces: a FER2013 model scored on CK+'s posed faces, subjects it never saw.

FER2013 is web photos, mostly spontaneous; the product's users pose for kiosks and
drivers frown at traffic. CK+ is posed expressions, so the FER2013 models on CK+ (the
six classes the two share: CK+'s contempt has no FER2013 row, and FER2013's neutral no
CK+ image) estimate how the product reads posed faces; a model trained on FER2013 alone
is scored on all of them. Reported beside the FER2013 figures; it chooses nothing (the
ship rule stays PublicTest's), so it stays a fair test.
A model may also train on some of CK+'s subjects (train-fer --ckplus-folds); it is then
scored on the other subjects only.
"""
import os

import numpy as np

import common
import datasets
import folds
import train


def faces(folds_wanted=None):
    """(x, y, fold): the CK+ images whose label is a FER2013 class, normalised, their
    FER2013 class indices and their subjects' folds (ckplus-folds.csv, subject-
    independent); with `folds_wanted`, only those in these folds. None when the data
    folder has FER2013 but no CK+."""
    if not os.path.exists(os.path.join(datasets.data_root(), "ckplus48", "ckplus48.csv")):
        return None
    images, labels, subjects = datasets.ckplus()
    fold = folds.load(subjects)
    keep = [i for i, label in enumerate(labels) if label in datasets.FER_CLASSES
            and (folds_wanted is None or fold[i] in folds_wanted)]
    y = np.array([datasets.FER_CLASSES.index(labels[i]) for i in keep])
    return train.normalise(np.asarray(images)[keep]), y, [fold[i] for i in keep]


def trained_folds(record):
    """The CK+ folds whose faces the model of a FER2013 record has seen: its own
    --ckplus-folds and any its --init model had seen (ckplus_trained)."""
    if "ckplus_trained" in record:
        return record["ckplus_trained"]
    spec = record.get("settings", {}).get("ckplus_folds")
    return folds.parse(spec) if spec else []


def measure(model, trained_on=()):
    """Record keys (posed_*) of `model` (a FER2013 NanoNet) on the posed faces, plain and
    mirror averaged: accuracy, confusion over the FER2013 classes, and the predicted class
    of each image (which check-shipped compares with the C engine). A model that trained
    on the CK+ folds `trained_on` is scored on the others only (posed_folds). {} without
    CK+."""
    held_out = [f for f in range(folds.K) if f not in trained_on] if trained_on else None
    data = faces(held_out)
    if data is None:
        print("posed faces: no CK+ in the data folder, not measured", flush=True)
        return {}
    x, y, fold = data
    out = {"posed_images": int(len(y)), "posed_folds": held_out,
           "posed_truth": [int(t) for t in y], "posed_image_folds": fold}
    for suffix, mirror in (("", False), ("_mirrored", True)):
        scores = train.predict_mirrored(model, x) if mirror else train.predict(model, x)
        pred = scores.argmax(1).numpy()
        out[f"posed_accuracy{suffix}"] = float((pred == y).mean())
        out[f"posed_confusion{suffix}"] = common.confusion(y, pred,
                                                           len(datasets.FER_CLASSES))
        out[f"posed_predictions{suffix}"] = [int(p) for p in pred]
    return out
