#!/usr/bin/python3
"""Starting a model from an .enn file (tools/train/pretrain.py): the unfolded network
computes what the file computes, the head keeps rows by class name, and a wrong or
damaged file is refused with its name and the problem. Needs no dataset."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "train"))
import torch  # noqa: E402

import enn  # noqa: E402
import nano  # noqa: E402
import pretrain  # noqa: E402

FILE_CLASSES = ["anger", "disgust", "fear", "happiness", "neutral", "sadness", "surprise"]
NEW_CLASSES = ["anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"]


def trained_source(table):
    """A model whose norms hold non-trivial statistics and affine terms."""
    torch.manual_seed(3)
    model = nano.NanoNet(table, len(FILE_CLASSES))
    with torch.no_grad():
        for norm in model.norms.values():
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.3, 0.3)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    for _ in range(3):
        x = torch.randn(16, 1, 48, 48)
        loss = model(x).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


class PretrainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.set_num_threads(1)
        cls.dir = tempfile.TemporaryDirectory()
        cls.table = nano.ARCHS["b"]
        cls.source = trained_source(cls.table)
        cls.path = os.path.join(cls.dir.name, "source.enn")
        enn.save(cls.path, cls.source, "source", FILE_CLASSES, 0.5, 0.25)
        cls.x = torch.randn(24, 1, 48, 48)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def fresh(self, classes=FILE_CLASSES, table=None):
        torch.manual_seed(9)
        return nano.NanoNet(table or self.table, len(classes))

    def largest_difference_from_source(self, training_mode):
        """Unfolds the file into a fresh model and compares it with the source network."""
        model = pretrain.init_from_enn(self.fresh(), self.path, FILE_CLASSES, self.x)
        with torch.no_grad():
            want = self.source(self.x)
            got = model.train(training_mode)(self.x)
        return (want - got).abs().max().item()

    def test_unfolded_model_computes_what_the_file_computes(self):
        self.assertLess(self.largest_difference_from_source(False), 1e-3)

    def test_training_mode_on_the_calibration_batch_matches_too(self):
        # batch norm in training mode uses the batch's statistics: those measured
        self.assertLess(self.largest_difference_from_source(True), 1e-2)

    def test_head_rows_follow_class_names(self):
        model = pretrain.init_from_enn(self.fresh(NEW_CLASSES), self.path, NEW_CLASSES,
                                       self.x, {"contempt": "neutral"})
        w = self.source.fc.weight
        for row, name in enumerate(NEW_CLASSES):
            source = "neutral" if name == "contempt" else name
            self.assertTrue(torch.equal(model.fc.weight[row], w[FILE_CLASSES.index(source)]),
                            name)

    def test_a_class_the_file_lacks_keeps_its_random_row(self):
        before = self.fresh(NEW_CLASSES).fc.weight[1].clone()
        model = pretrain.init_from_enn(self.fresh(NEW_CLASSES), self.path, NEW_CLASSES,
                                       self.x)
        self.assertTrue(torch.equal(model.fc.weight[1], before))

    def test_another_architecture_is_refused(self):
        with self.assertRaisesRegex(ValueError, "source.enn"):
            pretrain.init_from_enn(self.fresh(table=nano.ARCHS["a"]), self.path,
                                   FILE_CLASSES, self.x)

    def test_damaged_files_are_refused_with_the_problem(self):
        data = open(self.path, "rb").read()
        cases = {"truncated": data[:len(data) // 2],
                 "flipped": data[:200] + bytes([data[200] ^ 1]) + data[201:],
                 "foreign": b"PK\x03\x04" + data[4:]}
        for name, blob in cases.items():
            path = os.path.join(self.dir.name, name + ".enn")
            with open(path, "wb") as f:
                f.write(blob)
            with self.subTest(name), self.assertRaisesRegex(ValueError, path):
                pretrain.init_from_enn(self.fresh(), path, FILE_CLASSES, self.x)


if __name__ == "__main__":
    unittest.main(verbosity=2)
