"""A run's resumable state on disk, exact or compacted.

A run writes its state exact (torch.save) and resumes bit for bit. A state that spans
sessions is committed in train-state/, where one file may not exceed LIMIT bytes; a
wide model's exact state (weights plus Adam's two moments, 3 x 4 bytes a parameter) can.
`compact` rewrites such a file with Adam's moments in bfloat16 and the whole file
xz-compressed: the weights, the random generator and every record stay exact; the
moments, which only scale the next steps, keep 8 bits of mantissa. A run resumed from
it is not bit-identical to the uninterrupted run, so the state says where it was
compacted ("compacted_after") and the run's record carries that on."""
import io
import lzma
import os
import sys
import tempfile

import numpy as np
import torch

LIMIT = 4_000_000           # the repository's limit on one committed file, in bytes
_XZ_MAGIC = b"\xfd7zXZ\x00"


def _numpy_core_alias():
    """numpy >= 2 pickles its scalars under numpy._core, which numpy 1 calls numpy.core: a
    state written on a lent GPU machine must resume under Debian's numpy 1 (torch 1.13's
    torch.load ignores a pickle_module, so the alias goes where the unpickler imports)."""
    if not hasattr(np, "_core"):
        import numpy.core.multiarray  # noqa: F401
        sys.modules.setdefault("numpy._core", np.core)
        sys.modules.setdefault("numpy._core.multiarray", np.core.multiarray)


_MOMENTS = ("exp_avg", "exp_avg_sq")


def save(state, path):
    """Exact, atomic: a stopped run never leaves half a file."""
    _replace(path, lambda f: torch.save(state, f))


def load(path, device="cpu"):
    """Either form; a compacted state comes back with float32 moments."""
    with open(path, "rb") as f:
        raw = f.read()
    compacted = raw.startswith(_XZ_MAGIC)
    try:
        if compacted:
            raw = lzma.decompress(raw)
        # our own files, holding numpy scalars (the schedule's rates) besides tensors,
        # which PyTorch >= 2.6 refuses to unpickle unless told it may
        _numpy_core_alias()
        state = torch.load(io.BytesIO(raw), map_location=device, weights_only=False)
    except Exception as e:      # a damaged pickle raises almost anything
        raise ValueError(f"{path}: not a readable checkpoint ({e})") from None
    if not compacted:
        return state
    for slot in _adam_slots(state):
        for key in _MOMENTS:
            if key in slot:
                slot[key] = slot[key].float()
    return state


def compact(path, limit=LIMIT):
    """Rewrites `path` compacted when its exact form is over `limit`. Returns (bytes
    before, bytes after, what was done). Raises ValueError, leaving the file as it was,
    when even the compacted form does not fit or the file is not a run's state."""
    before = os.path.getsize(path)
    if before <= limit:
        return before, before, "fits as it is"
    state = load(path)
    if not isinstance(state, dict) or "epoch" not in state:
        raise ValueError(f"{path}: not a training run's state (no epoch)")
    slots = _adam_slots(state)
    if not slots:
        raise ValueError(f"{path}: {before} bytes and no optimiser moments to compact")
    for slot in slots:
        for key in _MOMENTS:
            if key in slot:
                slot[key] = slot[key].to(torch.bfloat16)
    state["compacted_after"] = sorted(set(state.get("compacted_after", [])) |
                                      {int(state["epoch"])})
    buf = io.BytesIO()
    torch.save(state, buf)
    packed = lzma.compress(buf.getvalue())     # -9 packs a state no smaller, in 674 MiB
    if len(packed) > limit:
        raise ValueError(f"{path}: {before} bytes, still {len(packed)} compacted, over the "
                         f"{limit}-byte limit; keep it outside the repository")
    _replace(path, lambda f: f.write(packed))
    return before, len(packed), "Adam's moments in bfloat16, xz-compressed"


def compaction_text(epochs):
    """What a resumed run, its log and the report say of a compacted state."""
    return (f"compacted after epoch {', '.join(map(str, epochs))} (Adam's moments in "
            "bfloat16): not bit-identical to an uninterrupted run")


def _replace(path, write):
    """Writes through a temporary file of its own, then renames it over `path`: a
    reader sees the old file or the new one, and two writers never share a name."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)),
                               prefix=os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _adam_slots(state):
    opt = state.get("opt") if isinstance(state, dict) else None
    if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict):
        return []
    return [s for s in opt["state"].values() if isinstance(s, dict)]
