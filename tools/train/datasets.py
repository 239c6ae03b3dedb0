"""Readers for the shared datasets (formats: ../shared/data/README.md).

Labels are mapped to the product's class names, whatever the dataset called them.
"""
import csv
import os
import sys

import numpy as np

CANONICAL = {"angry": "anger", "anger": "anger", "contempt": "contempt",
             "disgust": "disgust", "fear": "fear", "happy": "happiness",
             "neutral": "neutral", "sad": "sadness", "sadness": "sadness",
             "surprise": "surprise"}

HERE = os.path.dirname(os.path.abspath(__file__))
MISSING_DATA = 77      # the exit status ctest reads as "skipped"
DEFAULT_DATA = os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data"))


def data_root():
    root = os.environ.get("EMOTIOND_DATA", DEFAULT_DATA)
    if not os.path.isdir(root):
        print(f"SKIPPED: dataset folder {root} is absent: the datasets live in ../shared/data "
              "beside the project checkout (or set EMOTIOND_DATA); they are research-only and "
              "not shipped with emotiond", file=sys.stderr)
        sys.exit(MISSING_DATA)
    return root


def _read(folder, name):
    root = data_root()
    path = os.path.join(root, folder, name)
    try:
        with open(path + ".csv", newline="") as f:
            rows = list(csv.DictReader(f))
        raw = np.fromfile(path + ".u8", dtype=np.uint8)
    except OSError as e:
        # the folder is there, so this is a broken copy, not a machine without the data
        sys.exit(f"{e.filename}: {e.strerror} (dataset folder {root} is incomplete)")
    if raw.size != len(rows) * 48 * 48:
        sys.exit(f"{path}.u8 holds {raw.size} bytes, expected {len(rows)} images of 48x48")
    return rows, raw.reshape(len(rows), 48, 48)


def ckplus():
    """(images uint8 [981,48,48], labels [981] of class names, subjects [981])."""
    rows, images = _read("ckplus48", "ckplus48")
    labels = [CANONICAL[r["label"]] for r in rows]
    subjects = [r["subject"] for r in rows]
    return images, labels, subjects


def fer2013():
    """(images uint8 [N,48,48], labels [N] class names, usage [N])."""
    rows, images = _read("fer2013", "fer2013")
    return images, [CANONICAL[r["label"]] for r in rows], [r["usage"] for r in rows]


CKPLUS_CLASSES = ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]
FER_CLASSES = ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
