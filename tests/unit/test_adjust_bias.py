#!/usr/bin/python3
"""The per-class logit offsets of tools/train/adjust-bias and train-fer --holdout
(logit_offsets.py) on made-up logits (no dataset): a class the logits under-predict is
lifted to the floor asked for, the offsets have mean 0, the bagged fit is the mean of
the fits on seeded class-stratified resamples, a floor of 0 never lowers
accuracy, a class without faces is refused, and folded into a last layer's bias they
shift its logits by exactly themselves; adjust-bias searches with that module."""
import importlib.machinery
import importlib.util
import os
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.normpath(os.path.join(HERE, "..", "..", "tools", "train"))
sys.path.insert(0, TRAIN)
import torch  # noqa: E402

import logit_offsets  # noqa: E402


def load_tool():
    loader = importlib.machinery.SourceFileLoader("adjust_bias",
                                                  os.path.join(TRAIN, "adjust-bias"))
    spec = importlib.util.spec_from_loader("adjust_bias", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


class AdjustBiasTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tool = logit_offsets
        rng = np.random.default_rng(3)
        n, per = 4, 150
        cls.y = np.repeat(np.arange(n), per)
        logits = rng.normal(0, 1, (n * per, n))
        logits[np.arange(n * per), cls.y] += 1.6
        logits[:, 2] -= 1.2           # class 2 under-predicted
        cls.logits, cls.n = logits, n

    def test_floor_lifts_the_weak_class(self):
        acc0, rec0 = self.tool.scores(self.logits, self.y, np.zeros(self.n), self.n)
        self.assertLess(rec0[2], 0.45)
        b = self.tool.fit(self.logits, self.y, 0.6, self.n)
        acc, rec = self.tool.scores(self.logits, self.y, b, self.n)
        self.assertGreaterEqual(rec.min(), 0.6)
        self.assertGreater(b[2], 0.5)
        self.assertAlmostEqual(float(b.mean()), 0.0, places=9)

    def test_bagged_fit_is_the_mean_over_stratified_resamples(self):
        b = self.tool.fit_bagged(self.logits, self.y, 0.6, self.n, 4)
        np.testing.assert_array_equal(b, self.tool.fit_bagged(self.logits, self.y, 0.6,
                                                              self.n, 4))   # seeded
        self.assertAlmostEqual(float(b.mean()), 0.0, places=9)
        self.assertGreater(b[2], 0.5)          # the weak class is still lifted
        # each resample keeps every class's count (stratified), drawn with replacement
        rng = np.random.default_rng(self.tool.BAG_SEED)
        fits = []
        for _ in range(4):
            pick = np.concatenate([rng.choice(np.flatnonzero(self.y == c), 150)
                                   for c in range(self.n)])
            self.assertEqual(np.bincount(self.y[pick]).tolist(), [150] * self.n)
            self.assertLess(len(np.unique(pick)), len(pick))
            fits.append(self.tool.fit(self.logits[pick], self.y[pick], 0.6, self.n))
        want = np.mean(fits, axis=0)
        np.testing.assert_allclose(b, want - want.mean(), atol=1e-12)
        self.assertFalse(np.allclose(b, self.tool.fit(self.logits, self.y, 0.6, self.n)))
        with self.assertRaises(ValueError):
            self.tool.fit_bagged(self.logits[self.y != 1], self.y[self.y != 1], 0.6,
                                 self.n, 4)

    def test_no_floor_never_loses_accuracy(self):
        acc0, _ = self.tool.scores(self.logits, self.y, np.zeros(self.n), self.n)
        b = self.tool.fit(self.logits, self.y, 0.0, self.n)
        acc, _ = self.tool.scores(self.logits, self.y, b, self.n)
        self.assertGreaterEqual(acc, acc0)

    def test_the_tool_searches_with_the_module(self):
        tool = load_tool()
        self.assertIs(tool.fit, logit_offsets.fit)
        self.assertIs(tool.fold, logit_offsets.fold)
        self.assertIs(tool.scores, logit_offsets.scores)

    def test_a_class_without_faces_is_refused(self):
        keep = self.y != 3
        with self.assertRaises(ValueError):
            self.tool.fit(self.logits[keep], self.y[keep], 0.5, self.n)

    def test_folded_offsets_shift_the_logits(self):
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(5, 4)

            def forward(self, x):
                return self.fc(x)
        torch.manual_seed(0)
        net, x = Net(), torch.randn(6, 5)
        before = net(x).detach()
        b = self.tool.fit(self.logits, self.y, 0.6, self.n)
        self.tool.fold(net, b)
        np.testing.assert_allclose(net(x).detach().numpy(), before.numpy() + b, atol=1e-5)
        self.tool.fold(net, b, -1.0)
        np.testing.assert_allclose(net(x).detach().numpy(), before.numpy(), atol=1e-5)


if __name__ == "__main__":
    unittest.main()
