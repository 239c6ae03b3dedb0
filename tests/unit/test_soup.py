#!/usr/bin/python3
"""The mean of whole models' weights (averaging.mean_of_models, tools/train/soup): each
layer's weights and biases are the mean of the models', a model averaged with itself
computes what it computed, models of other graphs or classes are refused by name, and the
tool measures the mean on a made-up FER2013 (test_fer_levers's), writes it as a model
file that computes what was measured, records the ship rule's verdict, and
docs/results.md tables the record."""
import copy
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

import averaging  # noqa: E402
import common  # noqa: E402
import datasets  # noqa: E402
import enn  # noqa: E402
import pretrain  # noqa: E402
import report  # noqa: E402
import train  # noqa: E402
from test_fer_levers import fake_fer2013  # noqa: E402

NANO_B = os.path.join(ROOT, "models", "emotionnet-nano-b-fer.enn")


def shifted(model, by):
    """A copy of a read model with every weight and bias moved by `by`."""
    out = copy.deepcopy(model)
    for node in out["nodes"]:
        if "w" in node:
            node["w"] = node["w"] + np.float32(by)
            node["b"] = node["b"] + np.float32(by)
    return out


class MeanOfModelsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = enn.load(NANO_B)

    def test_each_layer_is_the_mean(self):
        a, b, c = self.model, shifted(self.model, 0.3), shifted(self.model, -0.9)
        mean = averaging.mean_of_models([a, b, c], ["a", "b", "c"])
        for i, node in enumerate(mean["nodes"]):
            if "w" in node:
                np.testing.assert_allclose(node["w"], a["nodes"][i]["w"] - 0.2, atol=1e-5)
                np.testing.assert_allclose(node["b"], a["nodes"][i]["b"] - 0.2, atol=1e-5)
                self.assertEqual(node["w"].dtype, np.float32)
        self.assertEqual(mean["classes"], a["classes"])
        # the ingredients are left as they were
        np.testing.assert_array_equal(b["nodes"][0]["w"], a["nodes"][0]["w"] + np.float32(0.3))

    def test_a_model_averaged_with_itself_computes_the_same(self):
        torch.manual_seed(0)
        x = torch.rand(16, 1, 48, 48)
        cal = torch.rand(64, 1, 48, 48)
        mean = averaging.mean_of_models([self.model, copy.deepcopy(self.model)], ["a", "b"])
        one = pretrain.model_from_enn(NANO_B, "b", datasets.FER_CLASSES, cal)
        both = pretrain.model_from_enn(mean, "b", datasets.FER_CLASSES, cal)
        np.testing.assert_allclose(train.predict(both, x).numpy(),
                                   train.predict(one, x).numpy(), atol=1e-4)

    def test_other_graphs_and_classes_are_refused_by_name(self):
        other = copy.deepcopy(self.model)
        other["classes"] = list(reversed(other["classes"]))
        with self.assertRaisesRegex(ValueError, "^second: its class list differs from first's"):
            averaging.mean_of_models([self.model, other], ["first", "second"])
        other = copy.deepcopy(self.model)
        other["nodes"] = other["nodes"][:-1]
        with self.assertRaisesRegex(ValueError, "^second: .* layers, first has"):
            averaging.mean_of_models([self.model, other], ["first", "second"])
        other = copy.deepcopy(self.model)
        other["nodes"][0]["w"] = other["nodes"][0]["w"][:-1]
        with self.assertRaisesRegex(ValueError, "^second: layer 0 differs from first's"):
            averaging.mean_of_models([self.model, other], ["first", "second"])
        with self.assertRaisesRegex(ValueError, "at least two"):
            averaging.mean_of_models([self.model], ["first"])


class SoupToolTest(unittest.TestCase):
    def test_measures_writes_and_records_the_mean(self):
        with tempfile.TemporaryDirectory() as tmp:
            fake_fer2013(os.path.join(tmp, "data"))
            other = os.path.join(tmp, "other.enn")
            model = enn.load(NANO_B)
            # a second model near the first: the first's file, its head's bias moved
            torch.manual_seed(1)
            net = pretrain.model_from_enn(NANO_B, "b", datasets.FER_CLASSES,
                                          torch.rand(32, 1, 48, 48))
            with torch.no_grad():
                net.fc.bias.add_(torch.linspace(-0.5, 0.5, 7))
            enn.save(other, net, "other", model["classes"], train.MEAN, train.STD)
            out, record = os.path.join(tmp, "soup.enn"), os.path.join(tmp, "r", "soup.json")
            env = dict(os.environ, EMOTIOND_DATA=os.path.join(tmp, "data"))
            run = subprocess.run(
                [sys.executable, os.path.join(TRAIN, "soup"), NANO_B, other, "--variant", "b",
                 "--write-enn", out, "--json", record, "--label", "test"],
                env=env, capture_output=True, text=True)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("the mean of 2: PublicTest", run.stdout)
            self.assertIn("against the shipped", run.stdout)
            with open(record) as f:
                r = json.load(f)
            self.assertEqual(r["label"], "test")
            self.assertEqual([i["file"] for i in r["ingredients"]][0],
                             os.path.relpath(NANO_B, ROOT))
            self.assertEqual(len(r["public_recall"]), 7)
            self.assertEqual(sum(map(sum, r["private_confusion"])), 14)
            self.assertEqual(r["passes_ship_rule"], r["ship_reason"].startswith("shipped"))
            # the written file is the mean, and computes what the record measured
            written, mean = enn.load(out), averaging.mean_of_models(
                [model, enn.load(other)], ["a", "b"])
            for a, b in zip(written["nodes"], mean["nodes"]):
                if "w" in a:
                    np.testing.assert_allclose(a["w"], b["w"], atol=1e-4)
                    np.testing.assert_allclose(a["b"], b["b"], atol=1e-4)
            saved = os.environ.get("EMOTIOND_DATA")
            os.environ["EMOTIOND_DATA"] = env["EMOTIOND_DATA"]
            try:
                images, labels, usage = datasets.fer2013()
            finally:
                if saved is None:
                    del os.environ["EMOTIOND_DATA"]
                else:
                    os.environ["EMOTIOND_DATA"] = saved
            usage, x = np.array(usage), train.normalise(images)
            y = np.array([datasets.FER_CLASSES.index(l) for l in labels])
            pub = usage == "PublicTest"
            net = pretrain.model_from_enn(out, "b", datasets.FER_CLASSES,
                                          x[usage == "Training"])
            pred = train.predict(net, x[pub]).argmax(1).numpy()
            self.assertAlmostEqual(float((pred == y[pub]).mean()), r["public_accuracy"])
            # docs/results.md's table of means, from the records in docs/results/soups/
            saved = common.RESULTS
            common.RESULTS = os.path.join(tmp, "results")
            try:
                self.assertEqual(report._soups_section(), "")
                os.makedirs(os.path.join(common.RESULTS, "soups"))
                os.replace(record, os.path.join(common.RESULTS, "soups", "test.json"))
                text = report._soups_section()
            finally:
                common.RESULTS = saved
            self.assertIn("### Weight averages of fine-tunes (model soups)", text)
            self.assertIn(f"| test | `emotionnet-nano-b-fer.enn` "
                          f"{100 * r['ingredients'][0]['public_accuracy']:.2f} %", text)
            self.assertIn(f"| {100 * r['public_accuracy']:.2f} % |", text)
            self.assertIn("passes" if r["passes_ship_rule"] else "fails", text)
            self.assertIn("`tools/train/soup ", text)

    def test_refuses_what_it_cannot_average(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.enn")
            with open(bad, "wb") as f:
                f.write(b"not a model")
            for argv, said in (([NANO_B], "at least two models"),
                               ([NANO_B, bad], "bad.enn: not an .enn file"),
                               ([NANO_B, os.path.join(ROOT, "models",
                                                      "emotionnet-nano-a-fer.enn")],
                                "differs from")):
                run = subprocess.run([sys.executable, os.path.join(TRAIN, "soup"), *argv],
                                     capture_output=True, text=True)
                self.assertNotEqual(run.returncode, 0)
                self.assertIn(said, run.stderr)
                self.assertNotIn("Traceback", run.stderr)


if __name__ == "__main__":
    unittest.main()
