#!/usr/bin/python3
"""tools/train/teacher-sets on a made-up FER2013 (test_fer_levers's): each model alone
scores what the model predicts, a set scores the argmax of its members' averaged
probabilities (what train-fer --teacher distils), models of different tables mix, the
record holds it all and docs/results.md tables it, and what it cannot do (a set naming no
model, a missing or malformed file, --json without --label) ends with a message naming
the problem."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.normpath(os.path.join(HERE, "..", "..", "tools", "train"))
ROOT = os.path.normpath(os.path.join(TRAIN, "..", ".."))
sys.path.insert(0, TRAIN)
sys.path.insert(0, HERE)
import torch  # noqa: E402

import common  # noqa: E402
import datasets  # noqa: E402
import enn  # noqa: E402
import pretrain  # noqa: E402
import report  # noqa: E402
import train  # noqa: E402
from test_fer_levers import fake_fer2013  # noqa: E402

NANO_A = os.path.join(ROOT, "models", "emotionnet-nano-a-fer.enn")
NANO_B = os.path.join(ROOT, "models", "emotionnet-nano-b-fer.enn")
TOOL = os.path.join(TRAIN, "teacher-sets")


def fake_data(tmp):
    """The made-up FER2013 as the tool reads it: (env, x, y, usage)."""
    data = os.path.join(tmp, "data")
    fake_fer2013(data)
    env = dict(os.environ, EMOTIOND_DATA=data)
    saved = os.environ.get("EMOTIOND_DATA")
    os.environ["EMOTIOND_DATA"] = data
    try:
        images, labels, usage = datasets.fer2013()
    finally:
        if saved is None:
            del os.environ["EMOTIOND_DATA"]
        else:
            os.environ["EMOTIOND_DATA"] = saved
    y = np.array([datasets.FER_CLASSES.index(l) for l in labels])
    return env, train.normalise(images), y, np.array(usage)


class TeacherSetsTest(unittest.TestCase):
    def test_scores_models_and_sets_and_records_them(self):
        with tempfile.TemporaryDirectory() as tmp:
            env, x, y, usage = fake_data(tmp)
            cal, pub = x[usage == "Training"], usage == "PublicTest"
            # a second Nano-B that answers otherwise: the first's head bias moved
            torch.manual_seed(1)
            net = pretrain.model_from_enn(NANO_B, "b", datasets.FER_CLASSES, cal)
            with torch.no_grad():
                net.fc.bias.add_(torch.linspace(-2, 2, 7))
            other = os.path.join(tmp, "other.enn")
            enn.save(other, net, "other", datasets.FER_CLASSES, train.MEAN, train.STD)
            record = os.path.join(tmp, "r", "sets.json")
            run = subprocess.run(
                [sys.executable, TOOL, NANO_B, other, NANO_A, "--set", "1", "--set", "1,2",
                 "--set", "3,1,2", "--json", record, "--label", "test"],
                env=env, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("set 1+2: PublicTest", run.stdout)
            with open(record) as f:
                r = json.load(f)
            self.assertEqual(r["label"], "test")
            self.assertEqual([m["file"] for m in r["models"]][0], os.path.relpath(NANO_B, ROOT))
            self.assertEqual([s["members"] for s in r["sets"]], [[1], [1, 2], [3, 1, 2]])

            def probabilities(path, variant):
                m = pretrain.model_from_enn(path, variant, datasets.FER_CLASSES, cal)
                return torch.softmax(train.predict(m, x[pub]), 1).numpy()

            p = [probabilities(NANO_B, "b"), probabilities(other, "b"),
                 probabilities(NANO_A, "a")]
            for i in range(3):
                self.assertAlmostEqual(r["models"][i]["public_accuracy"],
                                       float((p[i].argmax(1) == y[pub]).mean()))
            self.assertEqual(r["sets"][0]["public_accuracy"], r["models"][0]["public_accuracy"])
            for s, members in zip(r["sets"][1:], ([0, 1], [2, 0, 1])):
                pred = (sum(p[m] for m in members) / len(members)).argmax(1)
                self.assertAlmostEqual(s["public_accuracy"], float((pred == y[pub]).mean()))
                for c in range(7):
                    self.assertAlmostEqual(s["public_recall"][c],
                                           float((pred[y[pub] == c] == c).mean()))
            # the bias moved far enough that the two Nano-Bs disagree somewhere
            self.assertFalse(np.array_equal(p[0].argmax(1), p[1].argmax(1)))
            # docs/results.md's table, from the records in docs/results/teacher-sets/
            saved = common.RESULTS
            common.RESULTS = os.path.join(tmp, "results")
            try:
                self.assertEqual(report._teacher_sets_section(), "")
                os.makedirs(os.path.join(common.RESULTS, "teacher-sets"))
                os.replace(record, os.path.join(common.RESULTS, "teacher-sets", "t.json"))
                text = report._teacher_sets_section()
            finally:
                common.RESULTS = saved
            self.assertIn("### Teacher sets (averaged answers)", text)
            self.assertIn("1 `emotionnet-nano-b-fer.enn`; 2 `other.enn`; "
                          "3 `emotionnet-nano-a-fer.enn`", text)
            self.assertIn(f"| 3+1+2 | {100 * r['sets'][2]['public_accuracy']:.2f} % |", text)
            self.assertIn("`tools/train/teacher-sets ", text)

    def test_refuses_what_it_cannot_score(self):
        with tempfile.TemporaryDirectory() as tmp:
            env, *_ = fake_data(tmp)
            bad = os.path.join(tmp, "bad.enn")
            with open(bad, "wb") as f:
                f.write(b"not a model")
            for argv, said in (
                    ([NANO_B, "--set", "1,4"], "--set 1,4: no model numbered 4 (there are 1)"),
                    ([NANO_B, NANO_A, "--set", "2,2"], "--set 2,2: a model is named twice"),
                    ([NANO_B, "--set", "one"], "--set one: not a comma list"),
                    ([NANO_B, os.path.join(tmp, "gone.enn")], "gone.enn: no such file"),
                    ([NANO_B, bad], "bad.enn: not a FER2013 model"),
                    ([NANO_B, "--json", os.path.join(tmp, "x.json")], "--json needs --label")):
                run = subprocess.run([sys.executable, TOOL, *argv], env=env,
                                     capture_output=True, text=True)
                self.assertNotEqual(run.returncode, 0, argv)
                self.assertIn(said, run.stderr)
                self.assertNotIn("Traceback", run.stderr)


if __name__ == "__main__":
    unittest.main()
