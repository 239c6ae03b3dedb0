#!/usr/bin/python3
"""Fine-tuning settings of tools/train/train.fit beyond the paper's recipe: a frozen
stage stays exactly as it was (weights and batch-norm statistics), and a mixup run that
stops and resumes ends where the uninterrupted run ends. Needs no dataset."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "train"))
import torch  # noqa: E402

import nano  # noqa: E402
import train  # noqa: E402


def quiet(_msg):
    pass


class FitTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        torch.manual_seed(5)
        cls.x = torch.randn(40, 1, 48, 48)
        cls.y = torch.arange(40) % 7

    def fresh(self):
        torch.manual_seed(9)
        return nano.NanoNet(nano.ARCHS["b"], 7)

    def test_frozen_stage_keeps_weights_and_statistics(self):
        model = self.fresh()
        frozen = nano.freeze(model, 48)
        self.assertEqual(frozen, ["c1", "c2", "c3", "c4", "c5", "c6", "c7"])
        before = {k: v.clone() for k, v in model.state_dict().items()}
        train.fit(model, self.x, self.y, epochs=2, log=quiet, mixup=0.2, smoothing=0.1)
        after = model.state_dict()
        for key, value in before.items():
            layer = key.split(".")[1] if key.startswith(("convs.", "norms.")) else ""
            if key.endswith("num_batches_tracked"):
                continue
            if layer in frozen:
                self.assertTrue(torch.equal(value, after[key]), f"{key} changed")
            elif key.endswith(("weight", "running_mean")):
                self.assertFalse(torch.equal(value, after[key]), f"{key} did not train")

    def test_freeze_of_a_size_no_layer_has_is_refused(self):
        with self.assertRaisesRegex(ValueError, "outputs 7 x 7"):
            nano.freeze(self.fresh(), 7)

    def test_resumed_mixup_run_ends_where_the_whole_run_ends(self):
        settings = dict(log=quiet, mixup=0.2, smoothing=0.1, seed=3)
        whole = train.fit(self.fresh(), self.x, self.y, epochs=10, **settings)
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = os.path.join(tmp, "run.pt")
            train.fit(self.fresh(), self.x, self.y, epochs=5, checkpoint=ckpt, **settings)
            resumed = train.fit(self.fresh(), self.x, self.y, epochs=10, checkpoint=ckpt,
                                **settings)
        for key, value in whole.state_dict().items():
            self.assertTrue(torch.allclose(value.float(), resumed.state_dict()[key].float(),
                                           atol=1e-6), key)

    def test_mixup_changes_what_is_learned(self):
        plain = train.fit(self.fresh(), self.x, self.y, epochs=2, log=quiet, seed=3)
        mixed = train.fit(self.fresh(), self.x, self.y, epochs=2, log=quiet, seed=3,
                          mixup=0.2)
        self.assertFalse(torch.equal(plain.fc.weight, mixed.fc.weight))


if __name__ == "__main__":
    unittest.main()
