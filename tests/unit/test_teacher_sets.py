#!/usr/bin/python3
"""tools/train/teacher-sets on a made-up FER2013 (test_fer_levers's): each model alone
scores what the model predicts, a set scores the argmax of its members' averaged
probabilities (not of their averaged logits: members of known answers tell the two
apart), models of different tables mix, the record holds it all and docs/results.md
tables it, and what it cannot do (a set naming no model, a missing, truncated or
malformed file, a model of other classes, --json without --label, --threads 0) ends with
a message naming the problem; without the data it exits 77, saying so."""
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


def constant_model(path, cal, logits, classes=datasets.FER_CLASSES):
    """A Nano-B whose answer is `logits` whatever the image: its head's weights zeroed."""
    net = pretrain.model_from_enn(NANO_B, "b", datasets.FER_CLASSES, cal)
    with torch.no_grad():
        net.fc.weight.zero_()
        net.fc.bias.copy_(torch.tensor(logits))
    enn.save(path, net, os.path.basename(path), classes, train.MEAN, train.STD)


class TeacherSetsTest(unittest.TestCase):
    def test_scores_models_and_sets_and_records_them(self):
        with tempfile.TemporaryDirectory() as tmp:
            env, x, y, usage = fake_data(tmp)
            cal, pub = x[usage == "Training"], usage == "PublicTest"
            # Members of known answers, so that wrong ways of combining them answer
            # otherwise. Alone, "sure" answers anger (0), "torn" fear (2) and "split"
            # neutral (4). sure+torn: averaged probabilities answer anger (0.41 against
            # fear's 0.30); averaged logits, or probabilities at temperature 2, disgust
            # (1). torn+split: averaged probabilities answer disgust (0.43), the more
            # confident member (torn) or a vote fear or neutral.
            sure, torn, split = (os.path.join(tmp, f"{n}.enn") for n in ("sure", "torn", "split"))
            constant_model(sure, cal, [5.0, 3.5, -20, -20, -20, -20, -20])
            constant_model(torn, cal, [-20, 4.6, 5.0, -20, -20, -20, -20])
            constant_model(split, cal, [-20, 0.0, -20, -20, 0.2, -20, -20])
            record = os.path.join(tmp, "r", "sets.json")
            run = subprocess.run(
                [sys.executable, TOOL, sure, torn, NANO_A, NANO_B, split, "--set", "1", "--set",
                 "1,2", "--set", "2,1", "--set", "3,4", "--set", "2,5", "--json", record,
                 "--label", "test"],
                env=env, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("set 1+2: PublicTest", run.stdout)
            with open(record) as f:
                r = json.load(f)
            self.assertEqual(r["label"], "test")
            self.assertEqual([m["file"] for m in r["models"]][0], os.path.relpath(sure, ROOT))
            self.assertEqual([s["members"] for s in r["sets"]],
                             [[1], [1, 2], [2, 1], [3, 4], [2, 5]])

            def answers(c):
                """The record of a model that answers class c for every face."""
                return {"public_accuracy": float((y[pub] == c).mean()),
                        "public_recall": [float(k == c) for k in range(7)]}

            self.assertGreater(answers(0)["public_accuracy"], 0)
            for got, want in ((r["models"][0], answers(0)), (r["models"][1], answers(2)),
                              (r["sets"][0], answers(0)), (r["sets"][1], answers(0)),
                              (r["models"][4], answers(4)), (r["sets"][2], answers(0)),
                              (r["sets"][4], answers(1))):
                self.assertAlmostEqual(got["public_accuracy"], want["public_accuracy"])
                self.assertEqual(got["public_recall"], want["public_recall"])
            # the shipped Nano-A and Nano-B, of different tables, together: as recomputed
            probabilities = [torch.softmax(train.predict(
                pretrain.model_from_enn(path, variant, datasets.FER_CLASSES, cal), x[pub]),
                1).numpy() for path, variant in ((NANO_A, "a"), (NANO_B, "b"))]
            pred = (sum(probabilities) / 2).argmax(1)
            for i in range(2):
                self.assertAlmostEqual(r["models"][2 + i]["public_accuracy"],
                                       float((probabilities[i].argmax(1) == y[pub]).mean()))
            self.assertAlmostEqual(r["sets"][3]["public_accuracy"],
                                   float((pred == y[pub]).mean()))
            for c in range(7):
                self.assertAlmostEqual(r["sets"][3]["public_recall"][c],
                                       float((pred[y[pub] == c] == c).mean()))
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
            self.assertIn("1 `sure.enn`; 2 `torn.enn`; 3 `emotionnet-nano-a-fer.enn`; "
                          "4 `emotionnet-nano-b-fer.enn`; 5 `split.enn`", text)
            self.assertIn(f"| 3+4 | {100 * r['sets'][3]['public_accuracy']:.2f} % |", text)
            self.assertIn("`tools/train/teacher-sets ", text)

    def test_refuses_what_it_cannot_score(self):
        with tempfile.TemporaryDirectory() as tmp:
            env, x, _, usage = fake_data(tmp)
            bad, short = os.path.join(tmp, "bad.enn"), os.path.join(tmp, "short.enn")
            with open(bad, "wb") as f:
                f.write(b"not a model")
            with open(short, "wb") as f:
                f.write(b"ENNM\1\0")
            ckplus = os.path.join(tmp, "ckplus.enn")      # seven classes, not FER2013's
            constant_model(ckplus, x[usage == "Training"], [0.0] * 7, datasets.CKPLUS_CLASSES)
            for argv, said in (
                    ([NANO_B, "--set", "1,4"], "--set 1,4: no model numbered 4 (there are 1)"),
                    ([NANO_B, NANO_A, "--set", "2,2"], "--set 2,2: a model is named twice"),
                    ([NANO_B, "--set", "one"], "--set one: not a comma list"),
                    ([NANO_B, os.path.join(tmp, "gone.enn")], "gone.enn: no such file"),
                    ([NANO_B, bad], "bad.enn: not an .enn file"),
                    ([NANO_B, short], "short.enn: truncated"),
                    ([NANO_B, ckplus], "ckplus.enn: its classes are not anger, disgust"),
                    ([NANO_B, "--threads", "0"], "--threads: at least 1"),
                    ([NANO_B, "--json", tmp, "--label", "t"], "a folder, not a file name"),
                    ([NANO_B, "--json", os.path.join(bad, "x.json"), "--label", "t"],
                     "bad.enn/x.json: "),
                    ([NANO_B, "--json", os.path.join(tmp, "x.json")], "--json needs --label")):
                run = subprocess.run([sys.executable, TOOL, *argv], env=env,
                                     capture_output=True, text=True)
                self.assertNotEqual(run.returncode, 0, argv)
                self.assertIn(said, run.stderr)
                self.assertNotIn("Traceback", run.stderr)

    def test_without_the_data_skips_saying_so(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, EMOTIOND_DATA=os.path.join(tmp, "none"))
            run = subprocess.run([sys.executable, TOOL, NANO_B], env=env,
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, datasets.MISSING_DATA, run.stderr)
            self.assertIn("SKIPPED: dataset folder", run.stderr)

    def test_an_incomplete_dataset_folder_is_an_error_not_a_skip(self):
        with tempfile.TemporaryDirectory() as tmp:
            env, *_ = fake_data(tmp)
            os.remove(os.path.join(env["EMOTIOND_DATA"], "fer2013", "fer2013.u8"))
            run = subprocess.run([sys.executable, TOOL, NANO_B], env=env,
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 1, run.stderr)
            self.assertIn("fer2013.u8: No such file or directory", run.stderr)
            self.assertIn("is incomplete", run.stderr)
            self.assertNotIn("Traceback", run.stderr)

    def test_writes_a_record_in_the_working_folder(self):
        with tempfile.TemporaryDirectory() as tmp:
            env, *_ = fake_data(tmp)
            run = subprocess.run([sys.executable, TOOL, NANO_B, "--json", "here.json",
                                  "--label", "test"], env=env, cwd=tmp,
                                 capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            with open(os.path.join(tmp, "here.json")) as f:
                self.assertEqual(json.load(f)["label"], "test")


if __name__ == "__main__":
    unittest.main()
