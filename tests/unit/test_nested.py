#!/usr/bin/python3
"""The nested choice (tools/train/nested.py) read back from result files: each test fold
gets the setting that scored best on its inner run, ties go to the earlier candidate,
no mean until all ten test folds are in, and the all-data setting is the best inner
mean. Uses made-up records in a temporary folder; needs no dataset."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "train"))
import common  # noqa: E402
import nested  # noqa: E402

BASE = "ckplus-a-fer-init"
FROZEN = BASE + "-freeze48"


class NestedTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.saved = common.RESULTS
        common.RESULTS = self.dir.name

    def tearDown(self):
        common.RESULTS = self.saved
        self.dir.cleanup()

    def record(self, folder, kind, k, accuracy, **tuning):
        common.write_json(os.path.join(self.dir.name, folder, f"{kind}-{k}.json"),
                          {"fold": k, "accuracy": accuracy, "epochs": 50, **tuning})

    def inner_runs(self, base_scores, frozen_scores):
        for k, (b, f) in enumerate(zip(base_scores, frozen_scores)):
            self.record(BASE, "inner", k, b, lr=1e-3)
            self.record(FROZEN, "inner", k, f, lr=1e-3, freeze=48)

    def test_each_fold_takes_its_best_inner_setting_and_ties_go_to_the_first(self):
        self.inner_runs([0.9] * 10, [0.95, 0.9] + [0.8] * 8)
        choice = nested.choose("a")
        self.assertEqual([c for c, _ in choice["candidates"]], [BASE, FROZEN])
        self.assertEqual([chosen for _, chosen, _ in choice["folds"]], [1] + [0] * 9)
        self.assertEqual(choice["final"], 0)     # inner means: 0.90 against 0.825

    def test_no_mean_until_every_chosen_test_fold_has_run(self):
        self.inner_runs([0.9] * 10, [0.95] * 10)
        for k in range(9):
            self.record(FROZEN, "fold", k, 1.0)
        self.record(BASE, "fold", 9, 0.5)        # not the chosen setting's fold
        choice = nested.choose("a")
        self.assertIsNone(choice["mean"])
        self.assertEqual(choice["folds"][9], (9, 1, None))
        self.record(FROZEN, "fold", 9, 0.9)
        choice = nested.choose("a")
        self.assertAlmostEqual(choice["mean"], 0.99)
        self.assertEqual(choice["final"], 1)

    def test_no_choice_without_a_second_candidate_or_with_missing_inner_runs(self):
        for k in range(10):
            self.record(BASE, "inner", k, 0.9)
        self.assertIsNone(nested.choose("a")["final"])
        self.record(FROZEN, "inner", 0, 0.99, freeze=48)
        choice = nested.choose("a")
        self.assertEqual(choice["folds"][0][1], 1)
        self.assertEqual([chosen for _, chosen, _ in choice["folds"][1:]], [None] * 9)
        self.assertIsNone(choice["final"])

    def test_tuning_of_an_older_record_is_the_default_but_its_rate(self):
        self.assertEqual(nested.tuning({"lr": 1e-4}),
                         {"lr": 1e-4, "freeze": 0, "mixup": 0.0, "smoothing": 0.0})


if __name__ == "__main__":
    unittest.main()
