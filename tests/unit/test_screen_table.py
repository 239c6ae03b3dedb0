#!/usr/bin/python3
"""tools/train/screen-table: a table spec is read or refused (malformed, over Nano-A's
parameter budget); the width candidates all fit the budget and include Nano-A; a screen
pretrains on FER2013, fine-tunes the CK+ folds asked for from it, records each, resumes
without redoing a finished fold, and refuses to mix epochs into one record; the outer
step chooses by fold K's inner score alone, tests fold K with that table and Nano-A's,
and refuses a fold that lacks an inner run or was chosen among other screens. Made-up
data, a copy of tools/train in a temporary folder (the screen writes beside its tools);
needs no dataset."""
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.normpath(os.path.join(HERE, "..", "..", "tools", "train"))
sys.path.insert(0, TRAIN)
sys.path.insert(0, HERE)
import common  # noqa: E402
import folds  # noqa: E402
import nano  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from test_fer_levers import fake_ckplus, fake_fer2013  # noqa: E402


def load_screen_table():
    loader = importlib.machinery.SourceFileLoader("screen_table",
                                                  os.path.join(TRAIN, "screen-table"))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name,
                                                                             loader))
    loader.exec_module(module)
    return module


st = load_screen_table()
CLASSIFY = None     # the built enn-classify, which ctest passes: the C engine's answer


class Spec(unittest.TestCase):
    def test_nano_a_by_name_and_by_widths(self):
        self.assertEqual(st.parse_spec("a"), (st.NANO_A, "paper"))
        self.assertEqual(st.parse_spec("12,32,80/10,10,10,24,32,48,48,32"),
                         (st.NANO_A, "paper"))
        self.assertEqual(st.parse_spec("a:dense"), (st.NANO_A, "dense"))
        self.assertEqual(st.table_of(st.NANO_A), nano.ARCHS["a"])
        self.assertEqual(st.spec_of(st.NANO_A, "chain"), "12,32,80/10,10,10,24,32,48,48,32:chain")

    def test_connection_patterns_rewire_sums_only(self):
        paper = nano.ARCHS["a"]
        dense, chain = st.table_of(st.NANO_A, "dense"), st.table_of(st.NANO_A, "chain")
        for table in (dense, chain):
            nano.check(table)
            self.assertEqual(nano.count(table)[0], nano.count(paper)[0])   # sums: no weights
            net = nano.NanoNet(table, 7).eval()
            self.assertEqual(tuple(net(torch.zeros(2, 1, 48, 48)).shape), (2, 7))
        for p, d, c in zip(paper, dense, chain):
            self.assertEqual((p.name, p.out, p.stride), (d.name, d.out, d.stride))
            if len(p.inputs) == 1:
                self.assertEqual(p.inputs, d.inputs)
                self.assertEqual(p.inputs, c.inputs)
            else:
                self.assertLessEqual(set(p.inputs), set(d.inputs))
                self.assertEqual(len(c.inputs), 1)
                self.assertIn(c.inputs[0], p.inputs)
        # at 48 px, c6 sums every trunk output before it; the head, the last of its four
        by = {l.name: l for l in dense}
        self.assertEqual(by["c6"].inputs, ("c1", "c3", "c5"))
        self.assertEqual({l.name: l for l in chain}["head"].inputs, ("e5",))
        self.assertEqual(set(by["d6"].inputs), {"c8", "p1", "d1", "d3", "d5"})  # not d4:
        # it has the trunk's width at 24 px (32) but no sum of the paper's takes it

    def test_refusals_say_why(self):
        for spec, words in (("12,32/10,10,10,24,32,48,48,32", "expected"),
                            ("12,32,80/10,10,10,24,32,48,48", "expected"),
                            ("12,32,80/10,10,10,24,32,48,48,x", "expected"),
                            ("0,32,80/10,10,10,24,32,48,48,32", "at least 1"),
                            ("a:wide", "expected paper, dense, chain"),
                            ("16,40,96/12,12,12,30,40,60,60,40", "over Nano-A's 232,000")):
            with self.assertRaises(ValueError) as e:
                st.parse_spec(spec)
            self.assertIn(words, str(e.exception), spec)

    def test_candidates_fit_the_budget(self):
        found = st.candidates()
        for pattern in st.PATTERNS:
            self.assertIn((st.NANO_A, pattern), found)
        self.assertGreater(len(found), 5)
        for widths, pattern in found:
            params = nano.count(st.table_of(widths, pattern))[0]
            self.assertLessEqual(params, st.BUDGET)
            self.assertGreaterEqual(params, 0.9 * st.BUDGET)


class Engine(unittest.TestCase):
    def test_the_engine_runs_rewired_tables_as_pytorch_does(self):
        """A screen may pick a rewired table: the C engine must compute it too (sums of up
        to five inputs), as PyTorch does, from its .enn file."""
        if not CLASSIFY:
            self.skipTest("no enn-classify path given (ctest passes the built one)")
        import enn
        import train
        import numpy as np
        classes = ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
        img = (np.random.default_rng(1).random((48, 48)) * 255).astype(np.uint8)
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as tmp:
            face = os.path.join(tmp, "face.pgm")
            with open(face, "wb") as f:
                f.write(b"P5\n48 48\n255\n" + img.tobytes())
            for pattern in ("dense", "chain"):
                net = nano.NanoNet(st.table_of(st.NANO_A, pattern), len(classes))
                net.train()
                with torch.no_grad():          # batch norms with statistics of their own
                    for _ in range(3):
                        net(torch.randn(64, 1, 48, 48))
                net.eval()
                path = os.path.join(tmp, f"{pattern}.enn")
                enn.save(path, net, f"screen-{pattern}", classes, train.MEAN, train.STD)
                r = subprocess.run([CLASSIFY, "--model", path, face], capture_output=True,
                                   text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                said = dict(line.split() for line in r.stdout.splitlines()[1:]
                            if line.split() and line.split()[0] in classes)
                with torch.no_grad():
                    want = torch.softmax(net(train.normalise(img[None])), 1)[0]
                for c, p in zip(classes, want.tolist()):
                    self.assertAlmostEqual(float(said[c]), p, delta=2e-3, msg=(pattern, c))


class Choose(unittest.TestCase):
    A, W = st.name_of(st.NANO_A), "t12-32-80-m9-9-9-22-29-43-43-29"

    def rec(self, inner, fer=10, fold=50):
        return {"fer_epochs": fer, "fold_epochs": fold,
                "inner": {str(k): v for k, v in inner.items()}}

    def test_best_inner_score_of_fold_k_only(self):
        records = {self.W: self.rec({0: 0.90, 1: 0.99}), self.A: self.rec({0: 0.95, 1: 0.80})}
        self.assertEqual(st.choose(records, 0), (self.A, {self.A: 0.95, self.W: 0.90}))
        self.assertEqual(st.choose(records, 1)[0], self.W)

    def test_ties_go_to_nano_a(self):
        records = {self.W: self.rec({3: 0.9}), self.A: self.rec({3: 0.9})}
        self.assertEqual(st.choose(records, 3)[0], self.A)

    def test_refusals_say_why(self):
        with self.assertRaisesRegex(ValueError, "Nano-A's own table is not screened"):
            st.choose({self.W: self.rec({0: 0.9})}, 0)
        with self.assertRaisesRegex(ValueError, f"inner run 2 not screened yet for {self.W}"):
            st.choose({self.A: self.rec({2: 0.9}), self.W: self.rec({0: 0.9})}, 2)
        with self.assertRaisesRegex(ValueError, "differ in their epochs"):
            st.choose({self.A: self.rec({0: 0.9}), self.W: self.rec({0: 0.9}, fer=5)}, 0)


class InnerSplit(unittest.TestCase):
    def test_fold_k_unseen_and_k_plus_1_scored(self):
        fold_of = np.repeat(np.arange(10), 3)
        for k in range(10):
            tr, score = folds.inner_split(fold_of, k)
            self.assertEqual(set(fold_of[score]), {(k + 1) % 10})
            self.assertEqual(set(fold_of[tr]), set(range(10)) - {k, (k + 1) % 10})
            self.assertFalse((tr & score).any())


class Screen(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = self.tmp.name
        shutil.copytree(TRAIN, os.path.join(root, "tools", "train"),
                        ignore=shutil.ignore_patterns("__pycache__"))
        self.data = os.path.join(root, "data")
        fake_fer2013(self.data)
        fake_ckplus(self.data)
        self.tool = os.path.join(root, "tools", "train", "screen-table")
        name = st.name_of(st.NANO_A)
        self.record = os.path.join(root, "docs", "results", "table-search", f"{name}.json")
        self.work = os.path.join(root, "train-state", "table-search", name)

    def tearDown(self):
        self.tmp.cleanup()

    def screen(self, *args):
        r = subprocess.run([sys.executable, self.tool, "a", "--fer-epochs", "1",
                            "--threads", "1", *args],
                           env={**os.environ, "EMOTIOND_DATA": self.data},
                           capture_output=True, text=True, timeout=600)
        return r

    def test_runs_recorded_resumed_and_epochs_kept(self):
        r = self.screen("--fold-epochs", "2", "--folds", "0,1")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(self.record) as f:
            first = json.load(f)
        self.assertEqual(sorted(first["inner"]), ["0", "1"])
        self.assertNotIn("inner_mean", first)           # two of ten runs
        self.assertEqual(first["params"], nano.count(nano.ARCHS["a"])[0])
        self.assertTrue(0 <= first["fer_public_accuracy"] <= 1)
        self.assertEqual(sorted(first["seconds"]), ["fer", "inner0", "inner1"])
        self.assertEqual(first["devices"], ["cpu"])
        self.assertEqual(sorted(os.listdir(self.work)), ["fer-e1.enn"])   # no checkpoint
        self.assertIn("CK+ inner 0 (scored on fold 1)", r.stdout)

        r = self.screen("--fold-epochs", "2", "--folds", "1-2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("CK+ inner 1 ", r.stdout)      # done already: not trained again
        self.assertIn("CK+ inner 2 ", r.stdout)
        with open(self.record) as f:
            second = json.load(f)
        self.assertEqual(second["inner"]["1"], first["inner"]["1"])
        self.assertEqual(second["fer_public_accuracy"], first["fer_public_accuracy"])
        self.assertEqual(second["seconds"]["fer"], first["seconds"]["fer"])  # not redone
        self.assertEqual(sorted(second["inner"]), ["0", "1", "2"])

        for flag, value in (("--fold-epochs", "3"), ("--fer-epochs", "2")):
            args = ["--fold-epochs", "2", "--folds", "3", flag, value]
            r = self.screen(*args)
            self.assertNotEqual(r.returncode, 0, flag)
            self.assertIn(f"screened with {flag[2:].replace('-', '_')} ", r.stderr)

    def test_outer_step_tests_fold_k_with_the_table_inner_k_chose(self):
        for spec in ("a", "a:chain"):
            r = subprocess.run([sys.executable, self.tool, spec, "--fer-epochs", "1",
                                "--fold-epochs", "1", "--folds", "0", "--threads", "1"],
                               env={**os.environ, "EMOTIOND_DATA": self.data},
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
        folder = os.path.dirname(self.record)
        names = sorted(f[:-5] for f in os.listdir(folder) if f.endswith(".json"))
        scores = {n: common.read_json(os.path.join(folder, n + ".json"))["inner"]["0"]
                  for n in names}

        outer = lambda *a: subprocess.run(  # noqa: E731
            [sys.executable, self.tool, "--outer", "--threads", "1", *a],
            env={**os.environ, "EMOTIOND_DATA": self.data}, capture_output=True,
            text=True, timeout=600)
        r = outer("--folds", "0-1")              # fold 1 has no inner run: nothing trains
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("fold 1: inner run 1 not screened yet for", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(folder, "outer")))
        kept = os.path.join(self.work, "fer-e1.enn")     # Nano-A's screen pretraining
        os.rename(kept, kept + ".away")
        r = outer("--folds", "0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("the screen's pretrained model is gone", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(folder, "outer")))
        os.rename(kept + ".away", kept)

        r = outer("--folds", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(folder, "outer", "fold-0.json")) as f:
            fold = json.load(f)
        self.assertEqual(fold["inner"], scores)
        self.assertEqual(fold["chosen"], st.choose(st.screens(folder), 0)[0])
        self.assertTrue(0 <= fold["accuracy"] <= 1 and 0 <= fold["nano_a_accuracy"] <= 1)
        self.assertEqual(sorted(fold["seconds"]),
                         sorted({fold["chosen"], st.name_of(st.NANO_A)}))
        self.assertEqual(os.listdir(os.path.join(os.path.dirname(self.work), "outer")), [])
        self.assertIn("outer fold 0: chose ", r.stdout)

        r = outer("--folds", "0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("outer fold 0: done already", r.stdout)

        # docs/results.md shows both screens and the tested fold
        r = subprocess.run([sys.executable, "-c", "import report; "
                            "print(report._table_search_section())"],
                           cwd=os.path.dirname(self.tool), capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("| `12,32,80/10,10,10,24,32,48,48,32` | ", r.stdout)
        self.assertIn("| `12,32,80/10,10,10,24,32,48,48,32:chain` | ", r.stdout)
        self.assertIn(f"| 0 | `{fold['chosen_spec']}` | ", r.stdout)

        # a table screened after fold 0 was tested would change its choice: refused
        extra = dict(common.read_json(self.record), table={"spec": "a:dense"})
        with open(os.path.join(folder, "t12-32-80-m10-10-10-24-32-48-48-32-dense.json"),
                  "w") as f:
            json.dump(extra, f)
        r = outer("--folds", "0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("chose among other screens (2 tables, now 3)", r.stderr)

    def test_the_epochs_are_fixed_before_any_training(self):
        """A screen stopped during its pretraining, before any run is recorded, is not
        taken up with other epochs: its record is written first."""
        p = subprocess.Popen([sys.executable, self.tool, "a", "--fer-epochs", "50",
                              "--threads", "1"],
                             env={**os.environ, "EMOTIOND_DATA": self.data},
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        with p.stdout:
            for line in p.stdout:                   # the pretraining has begun
                if "parameters" in line:
                    break
            p.kill()
        p.wait()
        r = self.screen("--fold-epochs", "2", "--folds", "0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("screened with fer_epochs 50", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and os.path.isfile(sys.argv[1]):     # else a test's name
        CLASSIFY = sys.argv.pop(1)
    unittest.main(verbosity=2)
