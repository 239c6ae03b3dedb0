#!/usr/bin/python3
"""Training on a lent GPU machine: tools/train/device-data packs the datasets losslessly
(and refuses a damaged pack, naming the file); tools/train/device-runs runs jobs side by
side, stops those still in their epochs at the deadline (SIGUSR1), leaves one past its
last epoch to finish, and packs what each job made; a state written under numpy 2
(numpy._core) loads where numpy 1 runs. Made-up data; needs no dataset and no GPU."""
import hashlib
import importlib.machinery
import importlib.util
import io
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.normpath(os.path.join(HERE, "..", "..", "tools", "train"))
sys.path.insert(0, TRAIN)
import numpy as np  # noqa: E402
import torch  # noqa: E402

import checkpoint  # noqa: E402


def script(name):
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"),
                                                  os.path.join(TRAIN, name))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


device_data = script("device-data")


def faces(n, seed):
    """Images with what real faces have (smooth areas, edges) and what breaks predictors
    (noise, 0/255 extremes)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:48, 0:48]
    smooth = (128 + 100 * np.sin(xx / 7.0 + rng.uniform(0, 6, (n, 1, 1))) *
              np.cos(yy / 9.0)).astype(np.int16)
    noisy = smooth + rng.integers(-40, 41, (n, 48, 48))
    noisy[:, ::7, ::5] = 255
    noisy[:, 3::11, 2::3] = 0
    return np.clip(noisy, 0, 255).astype(np.uint8)


class Codec(unittest.TestCase):
    def test_residuals_invert_exactly(self):
        x = np.concatenate([faces(50, 1), np.zeros((1, 48, 48), np.uint8),
                            np.full((1, 48, 48), 255, np.uint8),
                            (np.indices((48, 48)).sum(0) % 2 * 255).astype(np.uint8)[None]])
        z = device_data.residuals(x)
        self.assertEqual(z.dtype, np.uint8)
        np.testing.assert_array_equal(device_data.images_from(z), x)

    def test_residuals_are_small_on_smooth_images(self):
        x = faces(20, 2)
        smooth = np.clip(x.astype(np.int16) // 4 * 4, 0, 255).astype(np.uint8)
        # a smooth image's residuals are mostly near zero: that is what xz then packs
        z = device_data.residuals(np.repeat(np.repeat(smooth[:, ::4, ::4], 4, 1), 4, 2))
        self.assertGreater(np.mean(z < 8), 0.8)


class PackUnpack(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.src = os.path.join(self.tmp.name, "data")
        for folder, n in (("fer2013", 30), ("ckplus48", 9)):
            os.makedirs(os.path.join(self.src, folder))
            faces(n, n).tofile(os.path.join(self.src, folder, folder + ".u8"))
            with open(os.path.join(self.src, folder, folder + ".csv"), "w") as f:
                f.write("label,usage\n" + "".join(f"happy,Training\n" for _ in range(n)))

    def tearDown(self):
        self.tmp.cleanup()

    def run_tool(self, *args):
        return subprocess.run([sys.executable, os.path.join(TRAIN, "device-data"), *args],
                              env={**os.environ, "EMOTIOND_DATA": self.src},
                              capture_output=True, text=True)

    def test_round_trip_is_byte_exact(self):
        packed, out = os.path.join(self.tmp.name, "packed"), os.path.join(self.tmp.name, "out")
        self.assertEqual(self.run_tool("pack", packed).returncode, 0)
        r = self.run_tool("unpack", packed, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        for folder in ("fer2013", "ckplus48"):
            for ext in ("u8", "csv"):
                with open(os.path.join(self.src, folder, f"{folder}.{ext}"), "rb") as a, \
                        open(os.path.join(out, folder, f"{folder}.{ext}"), "rb") as b:
                    self.assertEqual(hashlib.sha256(a.read()).digest(),
                                     hashlib.sha256(b.read()).digest())

    def test_a_changed_pack_is_refused_by_name(self):
        packed, out = os.path.join(self.tmp.name, "packed"), os.path.join(self.tmp.name, "out")
        self.assertEqual(self.run_tool("pack", packed).returncode, 0)
        import lzma
        path = os.path.join(packed, "ckplus48.med.xz")
        with lzma.open(path) as f:
            z = bytearray(f.read())
        z[100] ^= 2                               # one pixel's residual, validly packed
        with lzma.open(path, "wb") as f:
            f.write(bytes(z))
        r = self.run_tool("unpack", packed, out)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ckplus48.u8: unpacked file differs", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "ckplus48", "ckplus48.u8")))
        self.assertEqual(os.listdir(os.path.join(out, "ckplus48")), [])    # nor its .part


FAKE_TRAINER = r"""#!/bin/bash
# stands in for python3: $1 is the tool (tools/train/train-fer); then --epochs N --name X
# --pace S (seconds an epoch), --setup S (seconds before its first epoch, no handler
# yet, as train-fer loading its data), --fail (ends at once with status 3)
echo "tool $1"
shift
mkdir -p tools/train/__pycache__ .git       # what Python and git describe leave: not packed
touch tools/train/__pycache__/fake.pyc .git/index
setup=0
while [ $# -gt 0 ]; do
    case $1 in --epochs) n=$2; shift;; --name) name=$2; shift;; --pace) pace=$2; shift;;
               --setup) setup=$2; shift;; --fail) exit 3;; esac
    shift
done
sleep "$setup"
stop=0; trap 'stop=1' USR1
mkdir -p train-state/$name
for e in $(seq 1 "$n"); do
    sleep "$pace"
    echo "$name epoch $e/$n: PublicTest 0.5"
    echo "$e" > train-state/$name/state.pt
    if [ $stop = 1 ]; then echo "stopped after epoch $e (SIGUSR1)"; exit 0; fi
done
trap - USR1                      # as train-fer once: a USR1 here would end it
sleep "$pace"; sleep "$pace"; sleep "$pace"
echo "$name: PrivateTest 0.5"
echo done > train-state/$name/result.json
"""


class Runs(unittest.TestCase):
    def test_deadline_stops_jobs_in_their_epochs_only(self):
        with tempfile.TemporaryDirectory() as tmp:
            root, out = os.path.join(tmp, "tree"), os.path.join(tmp, "out")
            os.makedirs(os.path.join(root, "train-state", "old"))
            os.makedirs(out)
            with open(os.path.join(root, "train-state", "old", "state.pt"), "w") as f:
                f.write("untouched")
            fake = os.path.join(tmp, "python")
            with open(fake, "w") as f:
                f.write(FAKE_TRAINER)
            os.chmod(fake, 0o755)
            jobs = os.path.join(tmp, "jobs.txt")
            with open(jobs, "w") as f:
                f.write("# a comment, then six jobs\n"
                        "--epochs 2 --name quick --pace 0.2\n"
                        "--epochs 50 --name long --pace 1\n"
                        "--epochs 2 --name ending --pace 1.5\n"
                        "screen-table --epochs 1 --name other --pace 0.1\n"
                        "--epochs 1 --name slow --pace 0.2 --setup 6\n"
                        "--epochs 1 --name crash --fail\n")
            # at 4 s: quick has finished, long is in its epochs, ending is past its last
            # (its end lasts until 7.5 s), slow is still setting up (until 6 s)
            r = subprocess.run(["bash", os.path.join(TRAIN, "device-runs"), jobs, "4", "30"],
                               cwd=root, capture_output=True, text=True, timeout=90,
                               env={**os.environ, "OUT": out, "PYTHON": fake,
                                    "POLL_S": "0.2"})
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)     # the crash
            self.assertIn("job5 ended with status 3", r.stdout)
            self.assertRegex(r.stdout, r"job1 asked to stop at its epoch's end \(\d+/50\)")
            self.assertIn("job2 not asked to stop (2/2)", r.stdout)
            self.assertIn("job4 not asked to stop (no epoch yet)", r.stdout)
            made, logs = {}, {}
            for i in range(6):
                with tarfile.open(os.path.join(out, f"job{i}.tgz")) as t:
                    made[i] = sorted(t.getnames())
                    logs[i] = t.extractfile("job.log").read().decode()
            self.assertIn("tool tools/train/train-fer\n", logs[0])
            self.assertIn("tool tools/train/screen-table\n", logs[3])
            self.assertEqual(made[0], ["job.log", "train-state/quick/result.json",
                                       "train-state/quick/state.pt"])
            self.assertEqual(made[1], ["job.log", "train-state/long/state.pt"])
            self.assertIn("stopped after epoch", logs[1])
            for i, name in ((2, "ending"), (3, "other"), (4, "slow")):
                self.assertIn(f"train-state/{name}/result.json", made[i])
            self.assertEqual(made[5], ["job.log"])
            self.assertNotIn("train-state/old/state.pt", sum(made.values(), []))


class NumpyTwoState(unittest.TestCase):
    @unittest.skipIf(hasattr(np, "_core"), "numpy >= 2 here: its own names load natively")
    def test_a_state_pickled_under_numpy_core_loads(self):
        buf = io.BytesIO()
        # the legacy format with pickle protocol 2 names classes as text lines: the
        # numpy 2 module name can be written in, as numpy 2 writes it
        torch.save({"lr": np.float64(3e-4), "w": torch.ones(2)}, buf, pickle_protocol=2,
                   _use_new_zipfile_serialization=False)
        raw = buf.getvalue()
        self.assertIn(b"numpy.core.multiarray", raw)
        raw = raw.replace(b"numpy.core.multiarray", b"numpy._core.multiarray")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "state.pt")
            with open(path, "wb") as f:
                f.write(raw)
            state = checkpoint.load(path)
        self.assertEqual(float(state["lr"]), 3e-4)
        self.assertEqual(state["w"].tolist(), [1.0, 1.0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
