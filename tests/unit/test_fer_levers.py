#!/usr/bin/python3
"""The FER2013 levers of tools/train/train-fer (fer.py, train.photometric): photometric
augmentation is a pure function of the generator's state and changes the images; a
stopped and resumed run with the new flags ends where the uninterrupted run ends; the
class weights are n_c^-0.5 with mean 1; the ship rule takes a candidate only when it
beats the shipped model overall and on the lowest class recall, and the run's end acts on
it; no new flag keeps the default recipe's folders; --holdout fits its logit offsets on
Training faces kept back from fitting and ships them in the model's bias; a compacted
state (checkpoint.py) resumes and is recorded, an unreadable one stops the run with its
name; --autocast bf16 is recorded per epoch and keeps the recipe; --boost multiplies a
class's weight, keeps the mean 1 and names its recipe; SIGUSR1 stops a run at its
epoch's end, except in or after the last epoch, when the run finishes; a finished recipe is refused under its name and runs again under a --tag.
The runs use a made-up 48x48 dataset and a copy of the tree in a temporary folder; needs
no dataset."""
import contextlib
import csv
import importlib.machinery
import importlib.util
import io
import os
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.normpath(os.path.join(HERE, "..", "..", "tools", "train"))
ROOT = os.path.normpath(os.path.join(TRAIN, "..", ".."))
sys.path.insert(0, TRAIN)
import numpy as np  # noqa: E402
import torch  # noqa: E402

import common  # noqa: E402
import enn  # noqa: E402
import fer  # noqa: E402
import folds  # noqa: E402
import train  # noqa: E402

DATA_LABELS = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
RECIPE = ["--init", os.path.join(ROOT, "models", "emotionnet-nano-b-fer.enn"), "--lr", "3e-4",
          "--balance", "--smoothing", "0.1", "--mixup", "0.2", "--photometric"]
# RECIPE's flags as fer.recipe_name's settings
RECIPE_SETTINGS = {"init": RECIPE[1], "lr": 3e-4, "balance": True, "smoothing": 0.1,
                   "mixup": 0.2, "photometric": True}


def load_train_fer():
    loader = importlib.machinery.SourceFileLoader("train_fer", os.path.join(TRAIN, "train-fer"))
    spec = importlib.util.spec_from_loader("train_fer", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def fake_fer2013(folder, per_class=(8, 2, 6, 8, 8, 6, 6), n_test=14):
    """A tiny FER2013 in the shared format: class-dependent brightness plus noise."""
    rng = np.random.default_rng(4)
    rows, images = [], []
    for usage, counts in (("Training", per_class), ("PublicTest", [n_test // 7] * 7),
                          ("PrivateTest", [n_test // 7] * 7)):
        for c, n in enumerate(counts):
            for _ in range(n):
                img = rng.normal(40 + 25 * c, 30, (48, 48)).clip(0, 255).astype(np.uint8)
                img[8 + 4 * c:12 + 4 * c, :] = 255         # a class-dependent stripe
                rows.append({"index": len(rows), "usage": usage, "label": DATA_LABELS[c],
                             "source_name": f"x{len(rows)}"})
                images.append(img)
    os.makedirs(os.path.join(folder, "fer2013"))
    with open(os.path.join(folder, "fer2013", "fer2013.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["index", "usage", "label", "source_name"])
        w.writeheader()
        w.writerows(rows)
    np.stack(images).tofile(os.path.join(folder, "fer2013", "fer2013.u8"))


CKPLUS_LABELS = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]


def fake_ckplus(folder, per_class=2):
    """A tiny CK+48 in the shared format, contempt (no FER2013 class) included; its
    subjects are real ones of ckplus-folds.csv, each image's from another fold."""
    with open(os.path.join(TRAIN, "ckplus-folds.csv"), newline="") as f:
        fold_of = {r["subject"]: int(r["fold"]) for r in csv.DictReader(f)}
    subject_in = {fold: s for s, fold in sorted(fold_of.items(), reverse=True)}
    rng = np.random.default_rng(5)
    rows, images = [], []
    for label in CKPLUS_LABELS:
        for _ in range(per_class):
            rows.append({"index": len(rows), "subject": subject_in[len(rows) % 10],
                         "sequence": "001", "frame": "1", "label": label})
            images.append(rng.integers(0, 256, (48, 48), dtype=np.uint8))
    os.makedirs(os.path.join(folder, "ckplus48"))
    with open(os.path.join(folder, "ckplus48", "ckplus48.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["index", "subject", "sequence", "frame", "label"])
        w.writeheader()
        w.writerows(rows)
    np.stack(images).tofile(os.path.join(folder, "ckplus48", "ckplus48.u8"))


def held_back(fraction):
    """The (fixture) FER2013 faces, class names, labels, Training rows, and the Training
    faces --holdout `fraction` keeps back."""
    import datasets
    images, labels, usage = datasets.fer2013()
    classes = datasets.FER_CLASSES
    y = np.array([classes.index(l) for l in labels])
    tr = np.array(usage) == "Training"
    held = np.zeros_like(tr)
    held[np.flatnonzero(tr)[fer.holdout_mask(y[tr], fraction)]] = True
    return images, classes, y, tr, held


class Tree:
    """common's folders pointed at a temporary tree holding a copy of the shipped Nano-B
    FER2013 model and its record; the fake dataset in EMOTIOND_DATA."""

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory()
        root = self.tmp.name
        self.saved = {k: getattr(common, k) for k in ("ROOT", "RESULTS", "BUILD", "STATE")}
        common.ROOT, common.RESULTS = root, os.path.join(root, "docs", "results")
        common.BUILD, common.STATE = os.path.join(root, "build"), os.path.join(root, "state")
        os.makedirs(os.path.join(root, "models"))
        self.model = os.path.join(root, "models", "emotionnet-nano-b-fer.enn")
        shutil.copy(os.path.join(ROOT, "models", "emotionnet-nano-b-fer.enn"), self.model)
        os.makedirs(os.path.join(common.RESULTS, "fer-b"))
        shutil.copy(os.path.join(ROOT, "docs", "results", "fer-b", "result.json"),
                    os.path.join(common.RESULTS, "fer-b", "result.json"))
        fake_fer2013(os.path.join(root, "data"))
        fake_ckplus(os.path.join(root, "data"))
        self.env = os.environ.get("EMOTIOND_DATA")
        os.environ["EMOTIOND_DATA"] = os.path.join(root, "data")
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            setattr(common, k, v)
        if self.env is None:
            del os.environ["EMOTIOND_DATA"]
        else:
            os.environ["EMOTIOND_DATA"] = self.env
        self.tmp.cleanup()


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def refusal(test, module, *argv):
    """What train-fer says as it exits on these arguments (the test fails if it does not)."""
    with test.assertRaises(SystemExit) as refused:
        run(module, *argv)
    return str(refused.exception)


def run(module, *argv):
    saved = sys.argv
    sys.argv = ["tools/train/train-fer", "--variant", "b", "--batch", "8", "--threads", "1",
                *argv]
    said = io.StringIO()
    try:
        with contextlib.redirect_stdout(said):
            module.main()
    finally:
        sys.argv = saved
    return said.getvalue()


class PhotometricTest(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)
        rng = np.random.default_rng(1)
        self.x = train.normalise(rng.integers(0, 256, (16, 48, 48)))

    def test_same_generator_state_same_images(self):
        gen = torch.Generator().manual_seed(7)
        torch.rand(5, generator=gen)            # mid-stream, as a resumed run would be
        state = gen.get_state()
        first = train.photometric(self.x, gen)
        after = gen.get_state()
        gen.set_state(state)
        second = train.photometric(self.x, gen)
        self.assertTrue(torch.equal(first, second))
        self.assertTrue(torch.equal(after, gen.get_state()))
        other = train.photometric(self.x, torch.Generator().manual_seed(8))
        self.assertFalse(torch.equal(first, other))

    def test_changes_images_within_the_pixel_range(self):
        out = train.photometric(self.x, torch.Generator().manual_seed(3))
        self.assertEqual(out.shape, self.x.shape)
        changed = (out - self.x).abs().flatten(1).amax(1)
        self.assertTrue(bool((changed > 0.05).all()), "an image came back unchanged")
        pixels = out * train.STD + train.MEAN
        self.assertGreaterEqual(float(pixels.min()), -1e-6)
        self.assertLessEqual(float(pixels.max()), 1 + 1e-6)

    def test_does_not_touch_the_global_generator(self):
        torch.manual_seed(0)
        expected = torch.rand(3)
        torch.manual_seed(0)
        train.photometric(self.x, torch.Generator().manual_seed(3))
        self.assertTrue(torch.equal(expected, torch.rand(3)))


class LeversTest(unittest.TestCase):
    def test_balance_weights(self):
        w = fer.balance_weights([0] * 100 + [1] * 25, 2)
        # 100^-0.5 : 25^-0.5 = 1 : 2, mean 1
        np.testing.assert_allclose(w, [2 / 3, 4 / 3])
        counts = [3995, 436, 4097, 7215, 4965, 4830, 3171]     # FER2013 Training
        labels = np.repeat(np.arange(7), counts)
        w = fer.balance_weights(labels, 7)
        self.assertAlmostEqual(float(w.mean()), 1.0)
        np.testing.assert_allclose(w * np.sqrt(counts), w[0] * np.sqrt(counts[0]))
        self.assertEqual(int(np.argmax(w)), 1)      # disgust, the rarest
        with self.assertRaises(ValueError):
            fer.balance_weights([0, 0, 2], 3)

    def test_boost_multiplies_a_class_weight_and_keeps_the_mean(self):
        classes = ["anger", "fear", "happiness"]
        labels = [0] * 100 + [1] * 25 + [2] * 100
        self.assertIsNone(fer.class_weights(labels, classes, False, None))
        w = fer.class_weights(labels, classes, False, {"fear": 2.0})
        np.testing.assert_allclose(w, [0.75, 1.5, 0.75])
        bal = fer.balance_weights(labels, 3)
        w = fer.class_weights(labels, classes, True, {"fear": 1.5})
        self.assertAlmostEqual(float(w.mean()), 1.0)
        self.assertAlmostEqual(w[1] / w[0], 1.5 * bal[1] / bal[0])
        self.assertAlmostEqual(w[2] / w[0], bal[2] / bal[0])
        np.testing.assert_allclose(fer.class_weights(labels, classes, True, None), bal)

    def test_boost_flags_are_checked_and_spelled_one_way(self):
        classes = ["anger", "fear", "happiness"]
        self.assertIsNone(fer.parse_boost(None, classes))
        self.assertIsNone(fer.parse_boost([], classes))
        # the classes' order, whatever the flags' order: one boost set, one recipe
        self.assertEqual(list(fer.parse_boost(["happiness=0.5", "fear=1.5"], classes).items()),
                         [("fear", 1.5), ("happiness", 0.5)])
        for bad, why in (("fear", "CLASS=FACTOR"), ("joy=2", "CLASS=FACTOR"),
                         ("fear=x", "a factor"), ("fear=0", "a factor"), ("fear=-1", "a factor"),
                         ("fear=1", "not 1"), ("fear=11", "at most 10"),
                         ("fear=nan", "a factor")):
            with self.assertRaises(ValueError, msg=bad) as refused:
                fer.parse_boost([bad], classes)
            self.assertIn(why, str(refused.exception))
        with self.assertRaises(ValueError) as refused:
            fer.parse_boost(["fear=2", "fear=3"], classes)
        self.assertIn("twice", str(refused.exception))

    def test_ship_rule(self):
        current = {"accuracy": 0.6534, "recall": [0.57, 0.32, 0.36, 0.85, 0.69, 0.55, 0.83]}
        better = {"accuracy": 0.66, "recall": [0.6, 0.4, 0.45, 0.8, 0.6, 0.5, 0.8]}
        ships, why = fer.ship_decision(better, current)
        self.assertTrue(ships)
        self.assertIn("shipped", why)
        same_acc = {**better, "accuracy": current["accuracy"]}
        self.assertFalse(fer.ship_decision(same_acc, current)[0])
        worse_floor = {"accuracy": 0.70, "recall": [0.9, 0.31, 0.9, 0.9, 0.9, 0.9, 0.9]}
        ships, why = fer.ship_decision(worse_floor, current)
        self.assertFalse(ships)
        self.assertIn("floor", why)
        equal_floor = {"accuracy": 0.70, "recall": [0.9, 0.32, 0.9, 0.9, 0.9, 0.9, 0.9]}
        self.assertFalse(fer.ship_decision(equal_floor, current)[0])

    def test_recall(self):
        self.assertEqual(fer.recall([[3, 1], [0, 0]]), [0.75, None])
        self.assertAlmostEqual(fer.accuracy_of([[3, 1], [1, 5]]), 0.8)

    def test_fold_lists(self):
        for spec, want, spelled in (("0-4", [0, 1, 2, 3, 4], "0-4"), ("4,3,0-2", [0, 1, 2, 3, 4], "0-4"),
                                    ("9", [9], "9"), ("0,1,3,5-7,9", [0, 1, 3, 5, 6, 7, 9],
                                                      "0,1,3,5-7,9")):
            self.assertEqual(folds.parse(spec), want)
            self.assertEqual(folds.text(want), spelled)
        for bad in ("", "1,4-2", "1-", "0-1000000000", "5,", "a", "-1", "10", "1,,2", " 5"):
            with self.assertRaises(ValueError, msg=bad):
                folds.parse(bad)

    def test_default_flags_keep_the_default_recipe_and_folders(self):
        for epochs in (40, 20, 60):
            self.assertEqual(fer.recipe_name("a", epochs, {}), "")
            self.assertEqual(fer.recipe_name("b", epochs, dict(fer.DEFAULTS)), "")
        self.assertEqual(fer.state_folder("a", ""),
                         os.path.join(common.STATE, "emotionnet-nano-a-fer"))
        self.assertEqual(fer.record_folder("a", ""), os.path.join(common.RESULTS, "fer"))
        self.assertEqual(fer.record_folder("b", ""), os.path.join(common.RESULTS, "fer-b"))

    def test_each_lever_names_its_recipe(self):
        settings = {"init": "models/emotionnet-nano-a-fer.enn", "lr": 3e-4, "balance": True,
                    "smoothing": 0.1, "photometric": True}
        name = fer.recipe_name("a", 16, settings)
        self.assertEqual(name, "init-e16-lr0.0003-bal-ls0.1-photo")
        self.assertEqual(fer.state_folder("a", name), os.path.join(
            common.STATE, "emotionnet-nano-a-fer-init-e16-lr0.0003-bal-ls0.1-photo"))
        self.assertEqual(fer.record_folder("a", name),
                         os.path.join(common.RESULTS, "fer-init-e16-lr0.0003-bal-ls0.1-photo"))
        self.assertEqual(fer.record_folder("b", name),
                         os.path.join(common.RESULTS, "fer-b-init-e16-lr0.0003-bal-ls0.1-photo"))
        self.assertEqual(fer.recipe_name("a", 30, {"mixup": 0.2}), "e30-mix0.2")
        self.assertEqual(fer.recipe_name("a", 30, {"init": "x/other.enn"}), "init-other-e30")
        self.assertEqual(fer.recipe_name("a", 30, {"lr": 1e-3}), "")
        self.assertEqual(fer.recipe_name("a", 40, {"holdout": 0.1}), "e40-ho0.1")
        self.assertEqual(fer.recipe_name("a", 40, {"holdout": 0.1, "offset_floor": 0.45}),
                         "e40-ho0.1f0.45")
        self.assertEqual(fer.recipe_name("a", 40, {"holdout": 0.1, "offset_bags": 20}),
                         "e40-ho0.1b20")
        self.assertEqual(fer.recipe_name("a", 40, {"holdout": 0.1, "swa": 8}), "e40-ho0.1-swa8")
        self.assertEqual(fer.recipe_name("a", 40, {"seed": 11}), "")
        self.assertEqual(fer.recipe_name("a", 40, {"boost": None}), "")
        self.assertEqual(fer.recipe_name("a", 12, {"balance": True, "smoothing": 0.1,
                                                   "boost": {"fear": 1.5, "anger": 1.2}}),
                         "e12-bal-bfear1.5-banger1.2-ls0.1")
        self.assertEqual(fer.recipe_name("w", 30, {"balance": True, "swa": 6, "seed": 2}),
                         "e30-bal-swa6-s2")
        self.assertEqual(fer.recipe_name("a", 12, {"swa": 6, "seed": 2, "tag": "fearteacher"}),
                         "e12-swa6-s2-fearteacher")
        self.assertEqual(fer.recipe_name("a", 40, {"tag": ""}), "")

    def test_tags_are_one_plain_word(self):
        for good in ("fearteacher", "t2", "a" * fer.TAG_MAX):
            self.assertEqual(fer.parse_tag(good), good)
        for bad in ("", "Fear", "2t", "fear-teacher", "fear teacher", "../x", "a" * 25, "é"):
            with self.assertRaises(ValueError, msg=bad):
                fer.parse_tag(bad)
        # every word a lever spells is refused, so a tagged name is never a lever's
        levers = {"init": "models/emotionnet-nano-a-fer.enn", "balance": True,
                  "photometric": True, "seed": 2, "swa": 6, "lr": 3e-4, "smoothing": 0.1,
                  "mixup": 0.2, "ckplus_folds": "5",
                  "product_crops": 0.5, "holdout": 0.1, "teachers": ["t.enn"],
                  "boost": {"fear": 2.0}}
        for key, value in levers.items():
            for word in fer.recipe_name("a", 12, {key: value}).split("-"):
                if word.isalnum():
                    with self.assertRaises(ValueError, msg=word) as e:
                        fer.parse_tag(word)
                    self.assertIn("a lever's word", str(e.exception))
        for word in ("e12", "s12", "bfear2", "init", "bal", "photo", "swa6"):
            with self.assertRaises(ValueError, msg=word):
                fer.parse_tag(word)

    def test_a_seed_of_its_own_is_said_in_the_record(self):
        import report
        for settings, said in (({}, False), ({"seed": 11}, False), ({"seed": 2}, True)):
            text = report._fer_recipe_text({"settings": settings})
            self.assertEqual("seed 2" in text, said, text)
            self.assertEqual("seed" in text, said, text)

    def test_a_boost_is_said_in_the_record(self):
        import report
        text = report._fer_recipe_text({"settings": {"balance": True, "boost": {"fear": 1.5}}})
        self.assertIn("class-balanced loss (weights ~ n^-0.5), fear's loss weight × 1.5", text)
        self.assertNotIn("loss weight ×", report._fer_recipe_text({"settings": {}}))

    def test_model_names_fit_the_format(self):
        """A long --init file name once made a recipe whose model name the engine refused
        (131 bytes): the name is cut to the format's limit with a digest, the writer
        refuses what the engine would, and a file can be renamed byte for byte."""
        import enn
        import nano
        base = "emotionnet-nano-a-fer"
        self.assertEqual(fer.model_name(base, "e40-bal"), "emotionnet-nano-a-fer-e40-bal")
        self.assertEqual(fer.model_name(base, ""), base)
        long_a, long_b = "init-" + "x" * 120 + "-swa6", "init-" + "x" * 120 + "-swa8"
        a, b = fer.model_name(base, long_a), fer.model_name(base, long_b)
        self.assertEqual((len(a), len(b)), (enn.NAME_MAX, enn.NAME_MAX))
        self.assertNotEqual(a, b)
        net = nano.NanoNet(nano.ARCHS["b"], 7)
        classes = ["c%d" % i for i in range(7)]
        with self.assertRaises(ValueError):
            enn.to_bytes(net, base + "-" + long_a, classes, 0.5, 0.25)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.enn")
            enn.save(path, net, base, classes, 0.5, 0.25)
            before = enn.load(path)
            enn.rename(path, a)
            after = enn.load(path)
            self.assertEqual(after["name"], a)
            self.assertEqual(read(path)[18 + len(a):],
                             enn.to_bytes(net, base, classes, 0.5, 0.25)[18 + len(base):])
            self.assertEqual(before["classes"], after["classes"])
            with self.assertRaises(ValueError):
                enn.rename(path, "x" * 129)

    def test_holdout_mask_is_stratified_and_fixed(self):
        counts = [3995, 436, 4097, 7215, 4965, 4830, 3171]     # FER2013 Training
        labels = np.random.default_rng(0).permutation(np.repeat(np.arange(7), counts))
        held = fer.holdout_mask(labels, 0.1)
        self.assertEqual(held.dtype, bool)
        self.assertEqual([int(held[labels == c].sum()) for c in range(7)],
                         [round(0.1 * n) for n in counts])
        np.testing.assert_array_equal(held, fer.holdout_mask(labels, 0.1))
        first = np.flatnonzero(labels == 0)[:400]      # drawn, not the first of a class
        self.assertFalse(held[first].all())
        self.assertTrue(held[first].any())
        # at least one face of a small class is kept back, and one left to fit on
        self.assertEqual(fer.holdout_mask([0, 0, 1, 1, 1], 0.1).tolist(),
                         fer.holdout_mask([0, 0, 1, 1, 1], 0.1).tolist())
        self.assertEqual(int(fer.holdout_mask([0, 0, 1, 1, 1], 0.1)[:2].sum()), 1)
        with self.assertRaises(ValueError) as e:
            fer.holdout_mask([0, 1, 1, 1], 0.2)
        self.assertIn("class 0 has 1", str(e.exception))


class DistillTest(unittest.TestCase):
    def test_loss_is_zero_at_the_teachers_answer_and_pulls_towards_it(self):
        import distill
        torch.manual_seed(0)
        teacher = torch.randn(8, 7)
        soft = torch.softmax(teacher / 2.0, 1)
        self.assertAlmostEqual(float(distill.loss(teacher, soft, 2.0)), 0.0, places=5)
        student = torch.zeros(8, 7, requires_grad=True)
        first = distill.loss(student, soft, 2.0)
        self.assertGreater(float(first), 0.01)
        first.backward()
        with torch.no_grad():
            moved = student - 1.0 * student.grad
        self.assertLess(float(distill.loss(moved, soft, 2.0)), float(first))

    def test_copies_kept_and_checked(self):
        import distill
        with tempfile.TemporaryDirectory() as tmp:
            a, b = os.path.join(tmp, "a.enn"), os.path.join(tmp, "b.enn")
            for path, data in ((a, b"first"), (b, b"second")):
                with open(path, "wb") as f:
                    f.write(data)
            work = os.path.join(tmp, "run")
            kept = distill.keep_copies(work, [a, b])
            self.assertEqual([os.path.basename(k) for k in kept], ["00-a.enn", "01-b.enn"])
            self.assertEqual(distill.keep_copies(work, [a, b]), kept)
            with self.assertRaises(ValueError) as e:
                distill.keep_copies(work, [b, a])
            self.assertIn("00-a.enn", str(e.exception))
            again = distill.keep_copies(os.path.join(tmp, "next"), list(reversed(kept)))
            self.assertEqual([os.path.basename(k) for k in again], ["00-b.enn", "01-a.enn"])


class RunTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.module = load_train_fer()

    def test_boosted_run_fits_with_the_boosted_weights_in_its_own_folder(self):
        import datasets
        with Tree():
            said = run(self.module, *RECIPE, "--boost", "fear=2", "--epochs", "2",
                       "--stop-after", "1")
            name = fer.recipe_name("b", 2, {"init": RECIPE[1], "lr": 3e-4, "balance": True,
                                            "smoothing": 0.1, "mixup": 0.2,
                                            "photometric": True, "boost": {"fear": 2.0}})
            self.assertIn("-bal-bfear2-", name)
            self.assertTrue(os.path.exists(os.path.join(fer.state_folder("b", name),
                                                        "state.pt")))
            line = next(l for l in said.splitlines() if l.startswith("class weights "))
            got = dict(p.rsplit(" ", 1) for p in line[len("class weights "):].split(", "))
            want = fer.class_weights(np.repeat(np.arange(7), (8, 2, 6, 8, 8, 6, 6)),
                                     datasets.FER_CLASSES, True, {"fear": 2.0})
            self.assertEqual(list(got), datasets.FER_CLASSES)
            np.testing.assert_allclose([float(v) for v in got.values()], want, atol=0.005)
            for bad in ("joy=2", "fear=1", "fear"):
                with self.assertRaises(SystemExit, msg=bad) as refused:
                    run(self.module, *RECIPE, "--boost", bad, "--epochs", "2")
                self.assertIn("--boost", str(refused.exception))

    def test_resumed_run_ends_where_the_whole_run_ends(self):
        states = []
        for stops in ((3,), (1, 3)):
            with Tree():
                for n in stops:
                    run(self.module, *RECIPE, "--epochs", "3", "--stop-after", str(n))
                name = fer.recipe_name("b", 3, {"init": RECIPE[1], "lr": 3e-4,
                                                "balance": True, "smoothing": 0.1,
                                                "mixup": 0.2, "photometric": True})
                states.append(train.load(os.path.join(fer.state_folder("b", name),
                                                       "state.pt")))
        whole, resumed = states
        self.assertEqual(whole["epoch"], 3)
        self.assertEqual(whole["history"], resumed["history"])
        self.assertTrue(torch.equal(whole["gen"], resumed["gen"]))
        for key, value in whole["model"].items():
            self.assertTrue(torch.allclose(value.float(), resumed["model"][key].float(),
                                           atol=1e-6), key)

    def test_sigusr1_stops_the_run_once_its_epoch_is_checkpointed(self):
        """kill -USR1 in the middle of an epoch: the run finishes that epoch, saves it as
        --stop-after would and stops; the same command then takes it to its end."""
        import signal
        name = fer.recipe_name("b", 2, {"init": RECIPE[1], "lr": 3e-4, "balance": True,
                                        "smoothing": 0.1, "mixup": 0.2, "photometric": True})
        augment, states = train.augment, []

        def augment_then_signal(*a):
            train.augment = augment
            os.kill(os.getpid(), signal.SIGUSR1)    # during epoch 1's first batch
            return augment(*a)
        for signalled in (False, True):
            with Tree():
                state = os.path.join(fer.state_folder("b", name), "state.pt")
                if signalled:
                    train.augment = augment_then_signal
                    try:
                        said = run(self.module, *RECIPE, "--epochs", "2")
                    finally:
                        train.augment = augment
                    self.assertIn("stopped after epoch 1 (SIGUSR1", said)
                    self.assertIs(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)
                else:
                    run(self.module, *RECIPE, "--epochs", "2", "--stop-after", "1")
                states.append(train.load(state))
                if signalled:
                    run(self.module, *RECIPE, "--epochs", "2")
                    rec = common.read_json(os.path.join(fer.record_folder("b", name),
                                                        "result.json"))
                    self.assertEqual(len(rec["public_history"]), 2)
        stopped, signalled = states
        self.assertEqual(signalled["epoch"], 1)
        self.assertEqual(signalled["history"], stopped["history"])
        for key, value in stopped["model"].items():
            self.assertTrue(torch.equal(value, signalled["model"][key]), key)

    def test_sigusr1_in_the_last_epoch_or_after_it_lets_the_run_finish(self):
        """A stop asked during the last epoch, or during the measuring after it, is not
        taken: the run writes its record (stopping would leave only that end to redo), and
        no handler is left behind."""
        import signal
        name = fer.recipe_name("b", 1, RECIPE_SETTINGS)
        augment, load = train.augment, train.load

        def augment_then_signal(*a):
            train.augment = augment
            os.kill(os.getpid(), signal.SIGUSR1)    # during the only epoch's first batch
            return augment(*a)

        def load_then_signal(path):
            if path.endswith("best.pt"):            # the first step after the last epoch
                os.kill(os.getpid(), signal.SIGUSR1)
            return load(path)
        for when in ("last epoch", "after it"):
            with Tree():
                try:
                    if when == "last epoch":
                        train.augment = augment_then_signal
                    else:
                        train.load = load_then_signal
                    said = run(self.module, *RECIPE, "--epochs", "1")
                finally:
                    train.augment, train.load = augment, load
                self.assertNotIn("stopped after", said, when)
                if when == "after it":
                    self.assertIn("SIGUSR1 after the last epoch", said)
                rec = common.read_json(os.path.join(fer.record_folder("b", name),
                                                    "result.json"))
                self.assertEqual(len(rec["public_history"]), 1, when)
                self.assertIs(signal.getsignal(signal.SIGUSR1), signal.SIG_DFL)

    def test_compacted_state_resumes_and_the_record_says_so(self):
        """A state over the per-file limit is committed compacted (checkpoint.py): the
        weights and the random stream stay exact, Adam's moments keep bfloat16's
        precision, the run resumes from it, and its record names where it was compacted."""
        import checkpoint
        name = fer.recipe_name("b", 2, {"init": RECIPE[1], "lr": 3e-4, "balance": True,
                                        "smoothing": 0.1, "mixup": 0.2, "photometric": True})
        ends = []
        for compacted in (False, True):
            with Tree():
                state = os.path.join(fer.state_folder("b", name), "state.pt")
                run(self.module, *RECIPE, "--epochs", "2", "--stop-after", "1")
                exact, size = train.load(state), os.path.getsize(state)
                # a state within the limit is left exact, byte for byte
                before = read(state)
                self.assertEqual(checkpoint.compact(state, size), (size, size, "fits as it is"))
                self.assertEqual(read(state), before)
                if compacted:
                    _, after, _ = checkpoint.compact(state, size - 1)
                    self.assertLess(after, size)
                    self.assertEqual(os.path.getsize(state), after)
                    small = train.load(state)
                    self.assertEqual(small["compacted_after"], [1])
                    self.assertTrue(torch.equal(small["gen"], exact["gen"]))
                    self.assertEqual(small["history"], exact["history"])
                    for key, value in exact["model"].items():
                        self.assertTrue(torch.equal(value, small["model"][key]), key)
                    for i, slot in exact["opt"]["state"].items():
                        for key in ("exp_avg", "exp_avg_sq"):
                            got = small["opt"]["state"][i][key]
                            self.assertEqual(got.dtype, torch.float32)
                            self.assertTrue(torch.allclose(got, slot[key], rtol=2 ** -8,
                                                           atol=0), (i, key))
                    import report
                    report.write()      # the run in progress, read from its compacted state
                    text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
                    self.assertIn(f"**`{name}` in progress**", text)
                    self.assertIn("Its state was compacted after epoch 1", text)
                    # what cannot fit even compacted is refused and left as it is
                    packed = read(state)
                    with self.assertRaisesRegex(ValueError, "over the 100-byte limit"):
                        checkpoint.compact(state, 100)
                    self.assertEqual(read(state), packed)
                said = run(self.module, *RECIPE, "--epochs", "2", "--stop-after", "2")
                ends.append(train.load(state))
                ends.append(said + run(self.module, *RECIPE, "--epochs", "2"))
                rec = common.read_json(os.path.join(fer.record_folder("b", name),
                                                    "result.json"))
                ends.append(rec)
        whole_end, whole_said, whole, resumed_end, resumed_said, resumed = ends
        self.assertNotIn("compacted", whole_said)
        self.assertNotIn("state_compacted_after", whole)
        self.assertIn("its state was compacted after epoch 1", resumed_said)
        self.assertEqual(resumed["state_compacted_after"], [1])
        self.assertEqual(resumed_end["compacted_after"], [1])   # kept by the exact saves
        # 8-bit moments move the second epoch's steps a little, not the run
        close = [torch.allclose(v, resumed_end["model"][k], rtol=0, atol=1e-4)
                 for k, v in whole_end["model"].items() if v.is_floating_point()]
        self.assertTrue(all(close))
        self.assertFalse(all(torch.equal(v, resumed_end["model"][k])
                             for k, v in whole_end["model"].items()))

    def test_bf16_autocast_is_how_a_run_computes_not_its_recipe(self):
        """--autocast bf16 keeps the recipe's folders, so a run may switch when it
        resumes; it changes the training steps, and the record says which epochs ran
        how."""
        name = fer.recipe_name("b", 2, {"init": RECIPE[1], "lr": 3e-4, "balance": True,
                                        "smoothing": 0.1, "mixup": 0.2, "photometric": True})
        ends, records = [], []
        for mode in ("fp32", "bf16"):
            with Tree():
                state = os.path.join(fer.state_folder("b", name), "state.pt")
                run(self.module, *RECIPE, "--epochs", "2", "--stop-after", "1")
                run(self.module, *RECIPE, "--epochs", "2", "--autocast", mode,
                    "--stop-after", "2")
                ends.append(train.load(state))
                run(self.module, *RECIPE, "--epochs", "2", "--autocast", mode)
                records.append(common.read_json(os.path.join(fer.record_folder("b", name),
                                                             "result.json")))
                text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
        fp32, mixed = ends
        self.assertEqual(fp32["precision"], ["fp32", "fp32"])
        self.assertEqual(mixed["precision"], ["fp32", "bf16"])
        self.assertEqual(records[1]["precision_by_epoch"], ["fp32", "bf16"])
        self.assertIn("epoch 1 on one CPU thread, epoch 2 on one CPU thread in bfloat16 "
                      "autocast", text)
        self.assertFalse(all(torch.equal(v, mixed["model"][k])
                             for k, v in fp32["model"].items()))
        for k, v in mixed["model"].items():     # float32 weights, bfloat16 passes
            self.assertEqual(v.dtype, fp32["model"][k].dtype, k)

    def test_unreadable_state_stops_the_run_with_its_name(self):
        name = fer.recipe_name("b", 2, {"init": RECIPE[1], "lr": 3e-4, "balance": True,
                                        "smoothing": 0.1, "mixup": 0.2, "photometric": True})
        with Tree():
            folder = fer.state_folder("b", name)
            os.makedirs(folder)
            for junk in (b"not a checkpoint", b"\xfd7zXZ\x00 truncated"):
                with open(os.path.join(folder, "state.pt"), "wb") as f:
                    f.write(junk)
                with self.assertRaises(SystemExit) as stop:
                    run(self.module, *RECIPE, "--epochs", "2")
                self.assertRegex(str(stop.exception),
                                 r"cannot resume: .*state\.pt: not a readable checkpoint")

    def test_candidate_is_recorded_and_shipped_only_when_it_wins(self):
        for wins in (False, True):
            with Tree() as tree:
                before = read(tree.model)
                # a record the shipped model's own run left in its recipe's folder, still
                # naming the shipped file: a win must mark it superseded all the same
                stale = os.path.join(common.RESULTS, "fer-b-scratch-e20", "result.json")
                os.makedirs(os.path.dirname(stale))
                common.write_json(stale, {"model": "models/emotionnet-nano-b-fer.enn",
                                          "stale": True})
                saved = fer.ship_decision
                fer.ship_decision = lambda new, cur: (wins, "shipped: test" if wins
                                                      else "not shipped: test")
                try:
                    run(self.module, *RECIPE, "--epochs", "2")
                finally:
                    fer.ship_decision = saved
                name = fer.recipe_name("b", 2, {"init": RECIPE[1], "lr": 3e-4,
                                                "balance": True, "smoothing": 0.1,
                                                "mixup": 0.2, "photometric": True})
                rec = common.read_json(os.path.join(fer.record_folder("b", name),
                                                    "result.json"))
                self.assertEqual(rec["shipped"], wins)
                self.assertEqual(len(rec["public_recall"]), 7)
                self.assertEqual(len(rec["private_recall_mirrored"]), 7)
                self.assertIn("--photometric", rec["command"])
                # posed faces: the 12 fake CK+ images of FER2013 classes, contempt skipped
                self.assertEqual(rec["posed_images"], 12)
                self.assertEqual(len(rec["posed_predictions_mirrored"]), 12)
                rows = [sum(r) for r in rec["posed_confusion"]]
                self.assertEqual(rows, [2, 2, 2, 2, 0, 2, 2])    # no neutral image
                self.assertAlmostEqual(rec["posed_accuracy"],
                                       fer.accuracy_of(rec["posed_confusion"]))
                self.assertFalse(os.path.exists(fer.state_folder("b", name)))
                shipped = common.read_json(os.path.join(common.RESULTS, "fer-b", "result.json"))
                after = read(tree.model)
                if wins:
                    self.assertNotEqual(before, after)
                    self.assertEqual(shipped["recipe"], name)
                    self.assertEqual(shipped["model"], "models/emotionnet-nano-b-fer.enn")
                    old = common.read_json(os.path.join(common.RESULTS, "fer-b-scratch-e20",
                                                        "result.json"))
                    self.assertEqual(old["superseded_by"], name)
                    self.assertIsNone(old["model"])
                    self.assertNotIn("stale", old)
                    self.assertIsNone(rec["candidate_file"])
                    self.assertFalse(os.path.exists(fer.candidate_file("b", name)))
                else:
                    self.assertEqual(before, after)
                    self.assertNotIn("recipe", shipped)
                    self.assertIsNone(rec["model"])
                    # kept for a later run, computing what was judged
                    kept = fer.candidate_file("b", name)
                    self.assertEqual(rec["candidate_file"], os.path.relpath(kept, common.ROOT))
                    self.assertEqual(enn.load(kept)["name"],
                                     fer.model_name("emotionnet-nano-b-fer", name))
                text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
                self.assertIn(f"`{name}`", text)
                self.assertIn("`scratch-e20`", text)
                self.assertIn("on posed faces (CK+)", text)
                if not wins:
                    self.assertIn(f"The candidate is kept as `{rec['candidate_file']}`.", text)
                # written after the clean-up: the finished run is not listed as running
                self.assertNotIn(f"**`{name}` in progress**", text)

    def test_posed_faces_in_training_are_left_out_of_the_score(self):
        with Tree() as tree:
            saved = fer.ship_decision
            fer.ship_decision = lambda new, cur: (True, "shipped: test")
            try:        # spelled out of order: the recipe keeps one spelling
                run(self.module, *RECIPE, "--epochs", "1", "--ckplus-folds", "4,0-3",
                    "--ckplus-repeat", "3")
            finally:
                fer.ship_decision = saved
            name = fer.recipe_name("b", 1, {"init": RECIPE[1], "lr": 3e-4, "balance": True,
                                            "smoothing": 0.1, "mixup": 0.2,
                                            "photometric": True, "ckplus_folds": "0-4",
                                            "ckplus_repeat": 3})
            self.assertTrue(name.endswith("-ck0-4x3"), name)
            rec = common.read_json(os.path.join(fer.record_folder("b", name), "result.json"))
            # image i of the fake CK+ is in fold i % 10; of the 12 non-contempt images
            # (indices 0-1 and 4-13), those in folds 5-9 are scored, those in 0-4 trained on
            scored = [i for i in list(range(2)) + list(range(4, 14)) if i % 10 >= 5]
            self.assertEqual(rec["posed_folds"], [5, 6, 7, 8, 9])
            self.assertEqual(rec["posed_images"], len(scored))
            self.assertEqual(rec["posed_image_folds"], [i % 10 for i in scored])
            self.assertEqual(rec["n_train_posed"], 12 - len(scored))
            self.assertEqual(rec["n_train"], 44)      # the fake FER2013 Training images
            self.assertEqual(rec["ckplus_trained"], [0, 1, 2, 3, 4])
            text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
            self.assertIn("folds 5-9 (trained on the others)", text)
            self.assertIn("every model on the subjects of folds 5-9 only", text)
            # it shipped: a model fine-tuned from it inherits what it saw ...
            run(self.module, "--init", tree.model, *RECIPE[2:], "--epochs", "1")
            name = fer.recipe_name("b", 1, {"init": tree.model, "lr": 3e-4, "balance": True,
                                            "smoothing": 0.1, "mixup": 0.2,
                                            "photometric": True})
            rec = common.read_json(os.path.join(fer.record_folder("b", name), "result.json"))
            self.assertEqual(rec["ckplus_trained"], [0, 1, 2, 3, 4])
            self.assertEqual(rec["posed_folds"], [5, 6, 7, 8, 9])
            # ... and the CK+ protocol refuses it as a start
            ckplus = importlib.machinery.SourceFileLoader(
                "reproduce_ckplus", os.path.join(TRAIN, "reproduce-ckplus"))
            module = importlib.util.module_from_spec(
                importlib.util.spec_from_loader("reproduce_ckplus", ckplus))
            ckplus.exec_module(module)
            with self.assertRaises(SystemExit) as refused:
                module.fer_model("b")
            self.assertIn("folds 0-4", str(refused.exception))
        for bad in ("0-9", "", "4-2", "5,", "10"):
            with self.assertRaises(SystemExit, msg=bad):
                with Tree():
                    run(self.module, *RECIPE, "--epochs", "1", "--ckplus-folds", bad)

    def test_product_crops_lever_resumes_and_is_measured(self):
        import datasets
        import product_crops
        pc = {"init": RECIPE[1], "lr": 3e-4, "balance": True, "smoothing": 0.1,
              "mixup": 0.2, "photometric": True, "product_crops": 0.5}
        name = fer.recipe_name("b", 2, pc)
        self.assertTrue(name.endswith("-photo-pc0.5"), name)
        states = []
        for stops in ((2,), (1, 2)):
            with Tree():
                images, _, _ = datasets.fer2013()
                os.makedirs(common.BUILD)
                found = np.arange(len(images)) % 3 != 0
                product_crops.write(product_crops.default_file(), images, 255 - images, found)
                for n in stops:
                    said = run(self.module, *RECIPE, "--epochs", "2", "--product-crops", "0.5",
                               "--stop-after", str(n))
                    # trained on them: the 44 fake Training faces, those not divisible by 3
                    self.assertIn("product crops: 29 of 44 training faces found", said)
                states.append(train.load(os.path.join(fer.state_folder("b", name), "state.pt")))
                if len(stops) == 2:
                    run(self.module, *RECIPE, "--epochs", "2", "--product-crops", "0.5")
                    rec = common.read_json(os.path.join(fer.record_folder("b", name),
                                                        "result.json"))
                    self.assertEqual(rec["settings"]["product_crops"], 0.5)
                    # the fake PublicTest: 14 images, rows 44-57, those not divisible by 3
                    self.assertEqual(rec["product_public_images"], 14)
                    self.assertEqual(rec["product_public_found"],
                                     sum(1 for i in range(44, 58) if i % 3))
                    self.assertEqual(sum(map(sum, rec["product_public_confusion"])),
                                     rec["product_public_found"])
                    text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
                    self.assertIn("on the product's crops", text)
        whole, resumed = states
        self.assertEqual(whole["history"], resumed["history"])
        self.assertTrue(torch.equal(whole["gen"], resumed["gen"]))
        for key, value in whole["model"].items():
            self.assertTrue(torch.allclose(value.float(), resumed["model"][key].float(),
                                           atol=1e-6), key)
        with Tree():        # no crops file and no tool to make one: the lever refuses
            with self.assertRaises(SystemExit) as refused:
                run(self.module, *RECIPE, "--epochs", "1", "--product-crops", "0.5")
            self.assertIn("--product-crops", str(refused.exception))
            with self.assertRaises(SystemExit) as refused:
                run(self.module, *RECIPE, "--epochs", "1", "--product-crops", "1.5")
            self.assertIn("a probability", str(refused.exception))

    def test_distillation_resumes_with_its_own_teachers(self):
        kd = {"init": RECIPE[1], "lr": 3e-4, "balance": True, "smoothing": 0.1, "mixup": 0.2,
              "photometric": True, "teachers": ["t1", "t2"], "distill": 0.7,
              "temperature": 3.0}
        name = fer.recipe_name("b", 2, kd)
        self.assertTrue(name.endswith("-photo-kd2a0.7t3"), name)
        flags = ["--distill", "0.7", "--temperature", "3"]
        states = []
        for stops in ((2,), (1, 2)):
            with Tree() as tree:
                other = os.path.join(tree.tmp.name, "other.enn")
                shutil.copy(os.path.join(ROOT, "models", "emotionnet-nano-a-fer.enn"), other)
                teachers = ["--teacher", tree.model, "--teacher", other]
                for n in stops:
                    said = run(self.module, *RECIPE, *teachers, *flags, "--epochs", "2",
                               "--stop-after", str(n))
                    self.assertIn("2 teachers, their averaged answer: PublicTest", said)
                folder = fer.state_folder("b", name)
                states.append(train.load(os.path.join(folder, "state.pt")))
                self.assertEqual(len(os.listdir(os.path.join(folder, "teachers"))), 2)
                if len(stops) == 1:
                    continue
                # the shipped file changed since the start: the run refuses to go on
                shipped = read(tree.model)
                shutil.copy(other, tree.model)
                with self.assertRaises(SystemExit) as refused:
                    run(self.module, *RECIPE, *teachers, *flags, "--epochs", "2")
                self.assertIn("other teachers", str(refused.exception))
                with open(tree.model, "wb") as f:     # ... and goes on with its copies
                    f.write(shipped)
                copies = [os.path.join(folder, "teachers", c)
                          for c in sorted(os.listdir(os.path.join(folder, "teachers")))]
                # the teachers' averaged answer on PublicTest, measured here on its own
                # (any figure: on these made-up faces it may well be 0)
                import datasets
                import distill
                images, labels, usage = datasets.fer2013()
                x = train.normalise(images)
                y = np.array([datasets.FER_CLASSES.index(l) for l in labels])
                pub = np.array(usage) == "PublicTest"
                want = distill.ensemble_accuracy(
                    distill.load(copies, datasets.FER_CLASSES, x[:8]), x[pub], y[pub])
                run(self.module, *RECIPE, *flags, "--epochs", "2",
                    *[a for c in copies for a in ("--teacher", c)])
                rec = common.read_json(os.path.join(fer.record_folder("b", name),
                                                    "result.json"))
                self.assertAlmostEqual(rec["teacher_public_accuracy"], want)
                self.assertFalse(os.path.exists(folder))    # teachers' copies cleared too
                text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
                self.assertIn("distilled from 2 teachers", text)
        whole, resumed = states
        self.assertEqual(whole["history"], resumed["history"])
        for key, value in whole["model"].items():
            self.assertTrue(torch.allclose(value.float(), resumed["model"][key].float(),
                                           atol=1e-6), key)
        with Tree() as tree:
            plain = run(self.module, *RECIPE, "--epochs", "1", "--stop-after", "1")
            self.assertNotIn("teachers", plain)
            untaught = train.load(os.path.join(fer.state_folder("b", fer.recipe_name(
                "b", 1, {**kd, "teachers": None, "distill": 0.5, "temperature": 2.0})),
                "state.pt"))
            run(self.module, *RECIPE, "--teacher", tree.model, "--epochs", "1",
                "--stop-after", "1")
            taught = train.load(os.path.join(fer.state_folder("b", fer.recipe_name(
                "b", 1, {**kd, "teachers": ["t"], "distill": 0.5, "temperature": 2.0})),
                "state.pt"))
            self.assertFalse(all(torch.equal(v, taught["model"][k])
                                 for k, v in untaught["model"].items()))
            for bad in (["--distill", "0.3"], ["--teacher", tree.model, "--distill", "0"],
                        ["--teacher", tree.model, "--temperature", "0"],
                        ["--teacher", os.path.join(tree.tmp.name, "none.enn")],
                        ["--teacher", os.path.join(ROOT, "README.md")]):
                with self.assertRaises(SystemExit, msg=bad):
                    run(self.module, *RECIPE, "--epochs", "1", *bad)

    def test_holdout_offsets_fitted_on_held_back_faces_and_shipped_in_the_bias(self):
        import nano
        import pretrain
        scratch = RECIPE[2:]            # --holdout refuses --init (it saw every face)
        ho = {"lr": 3e-4, "balance": True, "smoothing": 0.1, "mixup": 0.2,
              "photometric": True, "holdout": 0.25}
        name = fer.recipe_name("b", 1, ho)
        self.assertTrue(name.endswith("-photo-ho0.25"), name)
        with Tree() as tree:
            images, classes, y, tr, held = held_back(0.25)
            self.assertEqual(int(held.sum()), 13)   # per class 2, 1, 2, 2, 2, 2, 2 of 44
            said = run(self.module, *scratch, "--epochs", "1", "--holdout", "0.25",
                       "--stop-after", "1")
            self.assertIn("holding back 13 of 44 Training faces", said)
            raw = nano.NanoNet(nano.ARCHS["b"], len(classes))
            raw.load_state_dict(train.load(os.path.join(fer.state_folder("b", name),
                                                        "best.pt")))
            x = train.normalise(images)
            raw_logits = train.predict(raw, x[held]).numpy()
            saved = fer.ship_decision
            fer.ship_decision = lambda new, cur: (True, "shipped: test")
            try:
                said = run(self.module, *scratch, "--epochs", "1", "--holdout", "0.25")
            finally:
                fer.ship_decision = saved
            self.assertIn("logit offsets fitted on 13 held-back Training faces", said)
            self.assertIn("with the offsets)", said)
            rec = common.read_json(os.path.join(fer.record_folder("b", name), "result.json"))
            self.assertEqual(rec["n_train"], 44 - 13)
            self.assertEqual(rec["held_out"]["images"], 13)
            self.assertEqual(rec["held_out"]["per_class"], [2, 1, 2, 2, 2, 2, 2])
            self.assertEqual(rec["settings"]["holdout"], 0.25)
            off = np.array([rec["logit_offsets"][c] for c in classes])
            self.assertAlmostEqual(float(off.mean()), 0.0, places=3)
            # the offsets are the search's on the held-back faces' logits ...
            import logit_offsets
            want = logit_offsets.fit(raw_logits, y[held], 0.5, len(classes))
            np.testing.assert_allclose(off, want, atol=1e-4)
            # ... and the shipped file computes the raw logits plus them
            shipped = pretrain.model_from_enn(tree.model, "b", classes, x[tr])
            np.testing.assert_allclose(train.predict(shipped, x[held]).numpy(),
                                       raw_logits + want, atol=2e-3)
            self.assertGreater(np.abs(want).max(), 0.0)
            text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
            self.assertIn("13 Training faces (a class-stratified 0.25) held back", text)
            self.assertIn("fitted on the 13 held-back Training faces", text)
            self.assertIn("PublicTest by epoch (before the logit offsets)", text)
            self.assertIn("PublicTest recall (%) by epoch (before the logit offsets):", text)
            for bad, why in ((["--holdout", "0.25", "--init", tree.model], "--init"),
                             (["--holdout", "0.5"], "below 0.5"),
                             (["--offset-floor", "0.4"], "goes with --holdout"),
                             (["--holdout", "0.25", "--offset-floor", "1.5"], "a recall")):
                with self.assertRaises(SystemExit, msg=bad) as refused:
                    run(self.module, *scratch, "--epochs", "1", *bad)
                self.assertIn(why, str(refused.exception))

    def test_bagged_holdout_offsets_are_the_mean_of_resampled_fits(self):
        import logit_offsets
        import nano
        scratch = RECIPE[2:]
        name = fer.recipe_name("b", 1, {"lr": 3e-4, "balance": True, "smoothing": 0.1,
                                        "mixup": 0.2, "photometric": True, "holdout": 0.25,
                                        "offset_bags": 3})
        self.assertTrue(name.endswith("-photo-ho0.25b3"), name)
        with Tree():
            images, classes, y, tr, held = held_back(0.25)
            flags = (*scratch, "--epochs", "1", "--holdout", "0.25", "--offset-bags", "3")
            run(self.module, *flags, "--stop-after", "1")
            raw = nano.NanoNet(nano.ARCHS["b"], len(classes))
            raw.load_state_dict(train.load(os.path.join(fer.state_folder("b", name),
                                                        "best.pt")))
            raw_logits = train.predict(raw, train.normalise(images)[held]).numpy()
            said = run(self.module, *flags)
            self.assertIn("the mean of 3 resamples' fits", said)
            rec = common.read_json(os.path.join(fer.record_folder("b", name), "result.json"))
            self.assertEqual(rec["held_out"]["bags"], 3)
            off = np.array([rec["logit_offsets"][c] for c in classes])
            want = logit_offsets.fit_bagged(raw_logits, y[held], 0.5, len(classes), 3)
            np.testing.assert_allclose(off, want, atol=1e-4)
            text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
            self.assertIn("the mean of 3 fits on class-stratified bootstrap resamples", text)
            for bad, why in ((["--offset-bags", "3"], "goes with --holdout"),
                             (["--holdout", "0.25", "--offset-bags", "1"], "at least 2")):
                with self.assertRaises(SystemExit, msg=bad) as refused:
                    run(self.module, *scratch, "--epochs", "1", *bad)
                self.assertIn(why, str(refused.exception))

    def test_holdout_faces_never_trained_on_and_resumed_run_holds_back_the_same(self):
        import datasets
        scratch = RECIPE[2:]
        name = fer.recipe_name("b", 2, {"lr": 3e-4, "balance": True, "smoothing": 0.1,
                                        "mixup": 0.2, "photometric": True, "holdout": 0.25})
        states, saved = [], train.augment
        for stops in ((2,), (1, 2)):
            with Tree():
                images, labels, usage = datasets.fer2013()
                y = np.array([datasets.FER_CLASSES.index(l) for l in labels])
                tr = np.array(usage) == "Training"
                held = np.flatnonzero(tr)[fer.holdout_mask(y[tr], 0.25)]
                seen = []
                train.augment = lambda xb, gen: (seen.append(xb.clone()), saved(xb, gen))[1]
                try:
                    for n in stops:
                        run(self.module, *scratch, "--epochs", "2", "--holdout", "0.25",
                            "--stop-after", str(n))
                finally:
                    train.augment = saved
                states.append(train.load(os.path.join(fer.state_folder("b", name),
                                                      "state.pt")))
                seen = torch.cat(seen).flatten(1)
                self.assertEqual(len(seen), 2 * 31)     # two epochs of the 44 - 13 faces
                x = train.normalise(images).flatten(1)
                for i in held:                          # no held-back face in any batch
                    self.assertFalse(bool((seen == x[i]).all(1).any()), i)
                self.assertEqual(len({tuple(r.tolist()) for r in seen}), 31)
        whole, resumed = states
        self.assertEqual(whole["history"], resumed["history"])
        self.assertEqual(whole["threads"], [1, 1])
        for key, value in whole["model"].items():
            self.assertTrue(torch.allclose(value.float(), resumed["model"][key].float(),
                                           atol=1e-6), key)

    def test_weight_average_is_the_mean_of_the_last_epochs_and_judged_on_publictest(self):
        import averaging
        import nano
        scratch = RECIPE[2:]
        flags = (*scratch, "--epochs", "3", "--swa", "2")
        name = fer.recipe_name("b", 3, {"lr": 3e-4, "balance": True, "smoothing": 0.1,
                                        "mixup": 0.2, "photometric": True, "swa": 2})
        self.assertTrue(name.endswith("-photo-swa2"), name)
        with Tree():
            state = os.path.join(fer.state_folder("b", name), "state.pt")
            ends = []
            for n in (1, 2, 3):         # stopped and resumed after each epoch
                run(self.module, *flags, "--stop-after", str(n))
                ends.append(train.load(state))
            self.assertIsNone(ends[0]["swa"])              # epoch 1 is not averaged
            self.assertEqual([e["swa_count"] for e in ends], [0, 1, 2])
            self.assertEqual([len(e["recalls"]) for e in ends], [1, 2, 3])   # kept on resume
            net = nano.NanoNet(nano.ARCHS["b"], 7)
            for key, _ in net.named_parameters():
                want = (ends[1]["model"][key] + ends[2]["model"][key]) / 2
                self.assertTrue(torch.allclose(ends[2]["swa"][key], want, atol=1e-6), key)
            saved = fer.ship_decision
            fer.ship_decision = lambda new, cur: (False, "not shipped: test")
            try:
                said = run(self.module, *flags)
            finally:
                fer.ship_decision = saved
            self.assertIn("the weights averaged over epochs 2-3: PublicTest", said)
            rec = common.read_json(os.path.join(fer.record_folder("b", name), "result.json"))
            avg = rec["weight_average"]
            self.assertEqual(avg["epochs"], [2, 3])
            self.assertEqual(len(avg["public_recall"]), 7)
            # the mean is the candidate only if it beats the best epoch on both measures
            epoch = rec["best_epoch"]
            self.assertEqual(avg["best_epoch_public_accuracy"], rec["public_history"][epoch - 1])
            self.assertEqual(avg["best_epoch_public_floor"],
                             rec["public_floor_history"][epoch - 1])
            # per-class recall by epoch, its lowest class the floor of that epoch
            self.assertEqual(rec["public_recall_history"][:2], ends[1]["recalls"])
            for recall, floor in zip(rec["public_recall_history"], rec["public_floor_history"]):
                self.assertEqual(len(recall), 7)
                self.assertEqual(min(r for r in recall if r is not None), floor)
            self.assertEqual(avg["chosen"],
                             avg["public_accuracy"] > avg["best_epoch_public_accuracy"] and
                             min(avg["public_recall"]) > avg["best_epoch_public_floor"])
            # measured again from the candidate's file: one face of 14 either way at most
            self.assertAlmostEqual(rec["public_accuracy"],
                                   avg["public_accuracy"] if avg["chosen"]
                                   else max(rec["public_history"]), delta=1 / 14 + 1e-9)
            text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
            self.assertIn("the mean of the last 2 epochs' weights", text)
            self.assertIn("the weights averaged over epochs 2-3", text)
            self.assertIn("PublicTest recall (%) by epoch:", text)
            self.assertIn(f"| 3 | {100 * rec['public_history'][2]:.2f} | ", text)
            for bad in ("1", "4", "-1"):
                with self.assertRaises(SystemExit, msg=bad) as refused:
                    run(self.module, *scratch, "--epochs", "3", "--swa", bad)
                self.assertIn("--swa", str(refused.exception))
        # batch norms measured again: their mean is the images' own, batch by batch
        torch.manual_seed(3)
        net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
        x = torch.randn(64, 1, 8, 8) * 3 + 1
        mean = averaging.averaged_model(net, averaging.update(None, net, 0), x, batch=16)
        with torch.no_grad():
            feat = net[0](x)
        self.assertTrue(torch.allclose(mean[1].running_mean, feat.mean((0, 2, 3)), atol=1e-5))
        whole = averaging.averaged_model(net, averaging.update(None, net, 0), x, batch=64)
        self.assertTrue(torch.allclose(whole[1].running_var,
                                       feat.transpose(0, 1).reshape(2, -1).var(1), atol=1e-4))
        self.assertFalse(mean.training)
        self.assertEqual(mean[1].momentum, net[1].momentum)

    def test_teacher_variant_is_kept_never_shipped_and_teaches(self):
        import distill
        import nano
        params = nano.count(nano.ARCHS["w"])[0]
        self.assertGreater(params, 2 * nano.BUDGET["a"])
        # no default recipe: a teacher never takes the shipped model's folders
        self.assertEqual(fer.recipe_name("w", 1, {}), "e1")
        with Tree() as tree:
            nano_a = os.path.join(common.ROOT, "models", "emotionnet-nano-a-fer.enn")
            shutil.copy(os.path.join(ROOT, "models", "emotionnet-nano-a-fer.enn"), nano_a)
            models = {f: read(os.path.join(common.ROOT, "models", f))
                      for f in os.listdir(os.path.join(common.ROOT, "models"))}
            said = run(self.module, "--variant", "w", "--epochs", "1")
            kept = fer.teacher_file("w", "e1")
            self.assertIn(f"kept the teacher as {kept}", said)
            self.assertEqual({f: read(os.path.join(common.ROOT, "models", f))
                              for f in os.listdir(os.path.join(common.ROOT, "models"))}, models)
            self.assertFalse(os.path.exists(fer.state_folder("w", "e1")))
            rec = common.read_json(os.path.join(fer.record_folder("w", "e1"), "result.json"))
            self.assertFalse(rec["shipped"])
            self.assertIsNone(rec["model"])
            self.assertEqual(rec["teacher_file"], os.path.relpath(kept, common.ROOT))
            self.assertEqual(rec["params"], params)
            self.assertTrue(rec["ship_reason"].startswith(
                f"a teacher (Nano-W, {params:,} parameters), never shipped"), rec["ship_reason"])
            self.assertIn("beside the shipped Nano-A: PublicTest", rec["ship_reason"])
            text = read(os.path.join(common.ROOT, "docs", "results.md"), "r")
            self.assertIn("### Nano-W teachers (for distillation, never shipped)", text)
            self.assertIn("`e1` (fer-w-e1/)", text)
            self.assertNotIn("shipped (`None`)", text)
            # the kept file loads as a Nano-W and teaches a Nano-B run
            import datasets
            x = train.normalise(datasets.fer2013()[0][:8])
            taught = distill.load([kept], datasets.FER_CLASSES, x)
            self.assertEqual(taught[0].table, nano.ARCHS["w"])
            said = run(self.module, *RECIPE, "--teacher", kept, "--epochs", "1",
                       "--stop-after", "1")
            self.assertIn("1 teachers, their averaged answer: PublicTest", said)
            with self.assertRaises(SystemExit) as refused:
                run(self.module, "--variant", "w", "--measure-shipped")
            self.assertIn("a teacher, never shipped", str(refused.exception))
            # a finished teacher is never replaced; a Nano-A file is no Nano-W start
            with self.assertRaises(SystemExit) as refused:
                run(self.module, "--variant", "w", "--epochs", "1")
            self.assertIn("trained already", str(refused.exception))
            with self.assertRaises(SystemExit) as refused:
                run(self.module, "--variant", "w", "--epochs", "1", "--init", nano_a)
            self.assertIn("--init: not a Nano-W model", str(refused.exception))

    def test_a_finished_recipe_is_not_run_again_under_its_name(self):
        with Tree():
            run(self.module, *RECIPE, "--epochs", "1")
            name = fer.recipe_name("b", 1, RECIPE_SETTINGS)
            record = os.path.join(fer.record_folder("b", name), "result.json")
            before = read(record)
            self.assertFalse(os.path.exists(fer.state_folder("b", name)))
            said = refusal(self, self.module, *RECIPE, "--epochs", "1")
            self.assertIn(f"recipe {name} has run already", said)
            self.assertIn("--tag", said)
            self.assertEqual(read(record), before)
            self.assertFalse(os.path.exists(fer.state_folder("b", name)))
            # the same recipe under a tag of its own: its own folders, its tag recorded
            run(self.module, *RECIPE, "--epochs", "1", "--tag", "again")
            tagged = os.path.join(fer.record_folder("b", f"{name}-again"), "result.json")
            self.assertEqual(common.read_json(tagged)["settings"]["tag"], "again")
            self.assertEqual(read(record), before)
            self.assertIn("--tag 'Again'", refusal(self, self.module, *RECIPE, "--epochs",
                                                   "1", "--tag", "Again"))
            self.assertIn("a lever's word", refusal(self, self.module, *RECIPE, "--epochs",
                                                    "1", "--tag", "s2"))
            self.assertIn("--tag names a training run",
                          refusal(self, self.module, "--measure-shipped", "--tag", "again"))
            # a run with a checkpoint resumes, even where a record of its recipe is found
            run(self.module, *RECIPE, "--epochs", "2", "--tag", "third", "--stop-after", "1")
            third = fer.record_folder("b", fer.recipe_name("b", 2, {**RECIPE_SETTINGS,
                                                                     "tag": "third"}))
            os.makedirs(third)
            shutil.copy(record, os.path.join(third, "result.json"))
            said = run(self.module, *RECIPE, "--epochs", "2", "--tag", "third")
            self.assertIn("resumed after epoch 1", said)

    def test_a_report_that_fails_leaves_the_finished_run_intact(self):
        """A run that began before report.py changed under it imports the new one at its
        end; if that raises, the record and cleanup stand and the run says what to do."""
        import report
        with Tree():
            saved = report.write

            def broken():
                raise AttributeError("module 'fer' has no attribute 'X'")
            report.write = broken
            try:
                said = run(self.module, *RECIPE[2:], "--epochs", "1")
            finally:
                report.write = saved
            name = fer.recipe_name("b", 1, {"lr": 3e-4, "balance": True, "smoothing": 0.1,
                                            "mixup": 0.2, "photometric": True})
            self.assertIn("docs/results.md not regenerated (AttributeError", said)
            self.assertTrue(os.path.exists(os.path.join(fer.record_folder("b", name),
                                                        "result.json")))
            self.assertFalse(os.path.exists(fer.state_folder("b", name)))

    def test_posed_faces_skipped_without_ckplus(self):
        with Tree() as tree:
            shutil.rmtree(os.path.join(tree.tmp.name, "data", "ckplus48"))
            import posed
            with contextlib.redirect_stdout(io.StringIO()) as said:
                self.assertEqual(posed.measure(None), {})
            self.assertIn("no CK+", said.getvalue())


if __name__ == "__main__":
    unittest.main()
