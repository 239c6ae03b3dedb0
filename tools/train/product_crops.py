"""FER2013 faces as the daemon crops them: each face placed in a camera-sized frame, found
by the daemon's default detector and cut by its default crop rule, by the C tool
product-crops (tools/eval/product_crops.c). train-fer --product-crops P trains on them
(each Training image, when its face was found, replaced by its product crop with
probability P each epoch), and every FER2013 record gets the PublicTest figures on them:
the accuracy the product itself would reach on those faces."""
import os
import struct
import subprocess
import zlib

import numpy as np

import common
import datasets

MAGIC = b"EPC1"
SIDE = 48


def default_file():
    return os.path.join(common.BUILD, "fer2013-product-crops.bin")


def tool():
    """The C tool as the release build makes it."""
    return os.path.join(common.ROOT, "build", "release", "tools", "product-crops")


def write(path, images, crops, found):
    """The file product-crops writes, from arrays (for tests and tools that make crops
    another way)."""
    if not len(images) == len(crops) == len(found):
        raise ValueError("images, crops and found differ in length")
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<II", len(images), SIDE))
        for img, crop, hit in zip(images, crops, found):
            face = np.ascontiguousarray(img, np.uint8).tobytes()
            f.write(struct.pack("<IB", zlib.crc32(face), 1 if hit else 0))
            f.write(np.ascontiguousarray(crop, np.uint8).tobytes() if hit else bytes(SIDE * SIDE))


def read(path, images):
    """(crops uint8 [N,48,48], found bool [N]) from product-crops' file, checked row by row
    against `images` (datasets.fer2013's, in file order): a file made from other data, or
    cut short, is refused with ValueError."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12 or data[:4] != MAGIC:
        raise ValueError(f"{path}: not a product-crops file (no {MAGIC.decode()} header)")
    rows, side = struct.unpack_from("<II", data, 4)
    rec = 5 + side * side
    if side != SIDE or len(data) != 12 + rows * rec:
        raise ValueError(f"{path}: {rows} rows of side {side} do not fill its "
                         f"{len(data)} bytes")
    if rows != len(images):
        raise ValueError(f"{path}: {rows} rows, the dataset has {len(images)}")
    body = np.frombuffer(data, np.uint8, offset=12).reshape(rows, rec)
    crc = body[:, :4].copy().view("<u4").ravel()
    for i, img in enumerate(images):
        if zlib.crc32(np.ascontiguousarray(img, np.uint8).tobytes()) != crc[i]:
            raise ValueError(f"{path}: row {i} was cut from another image than the "
                             "dataset's; remake it (product-crops)")
    found = body[:, 4] == 1
    return body[:, 5:].reshape(rows, side, side).copy(), found


def load_or_make(images, make=True, log=print):
    """read() of default_file(), made first with the built tool when it is missing and
    `make` allows (a few minutes on one core)."""
    path, exe = default_file(), tool()
    if not os.path.exists(path):
        if not make:
            raise FileNotFoundError(f"{path} is missing (not made for a smoke run)")
        if not os.path.exists(exe):
            raise FileNotFoundError(f"{path} is missing and so is {exe}, which makes it: "
                                    "build the project (scripts/test or cmake), then rerun")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        log(f"making {path} with {exe} (a few minutes)")
        subprocess.run([exe, datasets.data_root(), path], check=True)
    return read(path, images)


def mix(x, crops, found, idx, p, gen):
    """The batch x[idx] with each image whose face was found replaced by its product crop
    with probability p; `gen` (torch.Generator) draws which, so a resumed run draws as the
    whole one. x and crops are normalised tensors on one device, found a bool tensor."""
    import torch
    take = (torch.rand(len(idx), generator=gen) < p).to(x.device) & found[idx]
    return torch.where(take[:, None, None, None], crops[idx], x[idx])


def measure(model, crops, found, x, y, n_classes, predict):
    """PublicTest figures on the product's crops, for a record, from PublicTest's images
    (x, normalised), labels y, crops (uint8) and found flags: the faces found, the accuracy
    and confusion on their product crops, and the accuracy on the same found faces in the
    dataset's framing. {} when no face was found."""
    import train
    keep = np.asarray(found, bool)
    if not keep.any():
        return {}
    yk = y[keep]
    on_crops = predict(model, train.normalise(crops[keep])).argmax(1).numpy()
    on_dataset = predict(model, x[keep]).argmax(1).numpy()
    m = common.confusion(yk, on_crops, n_classes)
    return {"product_public_found": int(keep.sum()), "product_public_images": len(y),
            "product_public_accuracy": float((on_crops == yk).mean()),
            "product_public_confusion": m,
            "product_public_dataset_framing_accuracy": float((on_dataset == yk).mean())}
