#!/usr/bin/python3
"""tools/train/adjust-bias's search on made-up logits (no dataset, no torch model): a
class the logits under-predict is lifted to the floor asked for, the offsets have mean
0, and a floor of 0 never lowers accuracy."""
import importlib.machinery
import importlib.util
import os
import sys
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.normpath(os.path.join(HERE, "..", "..", "tools", "train"))
sys.path.insert(0, TRAIN)


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
        cls.tool = load_tool()
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

    def test_no_floor_never_loses_accuracy(self):
        acc0, _ = self.tool.scores(self.logits, self.y, np.zeros(self.n), self.n)
        b = self.tool.fit(self.logits, self.y, 0.0, self.n)
        acc, _ = self.tool.scores(self.logits, self.y, b, self.n)
        self.assertGreaterEqual(acc, acc0)


if __name__ == "__main__":
    unittest.main()
