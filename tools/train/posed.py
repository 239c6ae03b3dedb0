"""Posed faces: a FER2013 model scored on CK+, which no FER2013 model trains on.

FER2013 is web photos, mostly spontaneous; the product's users pose for kiosks and
drivers frown at traffic. CK+ is posed expressions, so the FER2013 models on CK+ (the
six classes the two share: CK+'s contempt has no FER2013 row, and FER2013's neutral no
CK+ image) estimate how the product reads posed faces. Reported beside the FER2013
figures; it chooses nothing (the ship rule stays PublicTest's), so it stays a fair test.
"""
import os

import numpy as np

import common
import datasets
import train


def faces():
    """(x, y): the CK+ images whose label is a FER2013 class, normalised, and their
    FER2013 class indices; None when the data folder has FER2013 but no CK+."""
    if not os.path.exists(os.path.join(datasets.data_root(), "ckplus48", "ckplus48.csv")):
        return None
    images, labels, _ = datasets.ckplus()
    keep = [i for i, label in enumerate(labels) if label in datasets.FER_CLASSES]
    y = np.array([datasets.FER_CLASSES.index(labels[i]) for i in keep])
    return train.normalise(np.asarray(images)[keep]), y


def measure(model):
    """Record keys (posed_*) of `model` (a FER2013 NanoNet) on the posed faces, plain and
    mirror averaged: accuracy, confusion over the FER2013 classes, and the predicted class
    of each image (which check-shipped compares with the C engine). {} without CK+."""
    data = faces()
    if data is None:
        print("posed faces: no CK+ in the data folder, not measured", flush=True)
        return {}
    x, y = data
    out = {"posed_images": int(len(y))}
    for suffix, mirror in (("", False), ("_mirrored", True)):
        scores = train.predict_mirrored(model, x) if mirror else train.predict(model, x)
        pred = scores.argmax(1).numpy()
        out[f"posed_accuracy{suffix}"] = float((pred == y).mean())
        out[f"posed_confusion{suffix}"] = common.confusion(y, pred,
                                                           len(datasets.FER_CLASSES))
        out[f"posed_predictions{suffix}"] = [int(p) for p in pred]
    return out
