"""tc.onnx.export: ONNX Runtime's outputs equal ours (seed CNN, zoo networks, every mapped op,
embedding models whose input is integer ids, 1-D convolutions and pools) at the example batch
size and at others; the file passes onnx.checker with full_check and declares the opset asked
for; parameters keep their names; clear errors for what cannot be exported."""

import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from example_scripts import load_example
from mnist_sample import mnist_batch
from optional import require

import tinygrad_cnn as tc
from tinygrad_cnn import nn, ops
from tinygrad_cnn.function import is_grad_enabled

onnx = require("onnx", "onnx")
ort = require("onnxruntime", "onnx")

ROOT = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-5          # the largest |ONNX Runtime - ours| allowed, float32


SeedCNN = load_example("examples/mnist/model.py", "seed_model").SeedCNN


def run_ort(path, x):
    """The exported model's outputs for x, from ONNX Runtime."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x})


def ours(model, x):
    with tc.no_grad():
        return model(tc.Value(x)).data


def max_difference(model, path, x):
    (got,) = run_ort(path, x)
    expected = ours(model, x)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    return float(np.abs(got - expected).max())


@pytest.fixture(scope="module")
def seed_cnn():
    tc.manual_seed(0)
    return SeedCNN().eval()


@pytest.fixture(scope="module")
def seed_onnx(seed_cnn, tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "seed_cnn.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # an eval-mode seed CNN exports silently
        proto = tc.onnx.export(seed_cnn, mnist_batch(4), path)
    return path, proto


# ---------------------------------------------------------------- the seed CNN


@pytest.mark.parametrize("batch", [4, 1, 13])        # the example's size, and others
def test_seed_cnn_runs_in_onnx_runtime_like_ours(seed_cnn, seed_onnx, batch):
    path, _ = seed_onnx
    assert max_difference(seed_cnn, path, mnist_batch(batch, offset=100)) < TOLERANCE


def test_seed_cnn_file_passes_the_full_checker_and_declares_the_opset(seed_onnx):
    path, proto = seed_onnx
    loaded = onnx.load(str(path))
    onnx.checker.check_model(loaded, full_check=True)
    assert [(o.domain, o.version) for o in loaded.opset_import] == [("", 17)]
    assert loaded.SerializeToString() == proto.SerializeToString()
    assert loaded.producer_name == "tinygrad_cnn"
    assert [n.op_type for n in loaded.graph.node] == ["Conv", "Relu", "Conv", "Relu", "MaxPool",
                                                      "Flatten", "Gemm"]
    assert [n.name for n in loaded.graph.node][:2] == ["/conv1/Conv", "/relu1/Relu"]


def test_seed_cnn_parameters_are_initializers_under_their_own_names(seed_cnn, seed_onnx):
    _, proto = seed_onnx
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    params = dict(seed_cnn.named_parameters())
    assert list(initializers) == list(params)
    for name, value in params.items():
        assert initializers[name].dtype == np.float32
        np.testing.assert_array_equal(initializers[name], value.data)


def test_batch_axis_is_dynamic(seed_onnx):
    _, proto = seed_onnx

    def dims(info):
        return [d.dim_param or d.dim_value for d in info.type.tensor_type.shape.dim]

    (graph_input,), (graph_output,) = proto.graph.input, proto.graph.output
    assert (graph_input.name, dims(graph_input)) == ("input", ["N", 1, 28, 28])
    assert (graph_output.name, dims(graph_output)) == ("output", ["N", 10])
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
def test_declared_opset_is_the_one_asked_for(seed_cnn, tmp_path, opset):
    path = tmp_path / "m.onnx"
    tc.onnx.export(seed_cnn, mnist_batch(2), path, opset=opset)
    loaded = onnx.load(str(path))
    assert [o.version for o in loaded.opset_import if o.domain == ""] == [opset]
    onnx.checker.check_model(loaded, full_check=True)
    assert max_difference(seed_cnn, path, mnist_batch(3)) < TOLERANCE


def test_export_is_deterministic_and_atomic(seed_cnn, tmp_path):
    tc.onnx.export(seed_cnn, mnist_batch(2), tmp_path / "a.onnx")
    tc.onnx.export(seed_cnn, mnist_batch(2), tmp_path / "b.onnx")
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["a.onnx", "b.onnx"]


def test_train_mode_exports_eval_mode_with_a_warning_and_keeps_the_modes(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(6, 4)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            return self.drop(self.fc(x))

    tc.manual_seed(0)
    model = Net()
    model.fc.eval()                                   # mixed modes come back as they were
    x = np.random.default_rng(0).standard_normal((3, 6)).astype(np.float32)
    with pytest.warns(UserWarning, match=r"onnx\.export: Net is in training mode; exporting "
                                         r"its evaluation-mode graph \(dropout off.*call "
                                         r"model\.eval\(\) before exporting"):
        tc.onnx.export(model, x, tmp_path / "net.onnx")
    assert (model.training, model.fc.training, model.drop.training) == (True, False, True)
    (got,) = run_ort(tmp_path / "net.onnx", x)
    np.testing.assert_allclose(got, ours(model.eval(), x), rtol=0, atol=TOLERANCE)
    assert "Dropout" not in {n.op_type for n in onnx.load(str(tmp_path / "net.onnx")).graph.node}


def test_training_mode_dropout_forced_in_forward_is_refused(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(6, 4)

        def forward(self, x):
            return ops.dropout(self.fc(x), 0.5, training=True)

    with pytest.raises(ValueError, match=r"onnx\.export: a Dropout in training mode \(module "
                                         r"''\) zeroes a random mask .* pass "
                                         r"training=self\.training to ops\.dropout"):
        tc.onnx.export(Net().eval(), np.ones((2, 6), np.float32), tmp_path / "d.onnx")
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------- batch norm's settings


def without_running_stats(layer):
    """The layer with both running statistics set to None: PyTorch's rule (and ours) then
    normalises with the batch's statistics in evaluation too."""
    layer.running_mean = layer.running_var = None
    return layer


def trained(layer, shape):
    """The layer after three training steps (momentum=None: the average of the three)."""
    rng = np.random.default_rng(8)
    for _ in range(3):
        layer(rng.standard_normal(shape).astype(np.float32) * 2 + 1)
    return layer


@pytest.mark.filterwarnings("error")       # C = N = 4: the example's statistics are no constant
@pytest.mark.parametrize("opset", [13, 18])         # ReduceMean's axes: attribute, input
@pytest.mark.parametrize("layer, batch_statistics", [
    (nn.BatchNorm2d(4, track_running_stats=False), True),
    (nn.BatchNorm2d(4, affine=False, track_running_stats=False), True),
    (without_running_stats(nn.BatchNorm2d(4)), True),
    (trained(nn.BatchNorm2d(4, momentum=None), (5, 4, 5, 4)), False),
    (trained(nn.BatchNorm2d(4, bias=False), (5, 4, 5, 4)), False),
], ids=["untracked", "untracked-no-affine", "set-to-none", "momentum-none", "no-bias"])
def test_batch_norm_settings_match_onnx_runtime(tmp_path, layer, batch_statistics, opset):
    """In evaluation a batch norm without running statistics normalises with the batch's own:
    the file computes them from its input (ReduceMean, as PyTorch's exporter does), holds no
    statistics of the example, and matches ours at other batch sizes too. With running
    statistics they are initializers under their state_dict names."""
    model = nn.Sequential(nn.Conv2d(2, 4, 2), layer).eval()
    rng, path = np.random.default_rng(23), tmp_path / "bn.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((4, 2, 6, 5)).astype(np.float32), path,
                           opset=opset)
    kinds = [n.op_type for n in proto.graph.node]
    names = {i.name for i in proto.graph.initializer}
    assert set(model.state_dict()) - {"1.num_batches_tracked"} <= names
    assert not any("Constant" in name for name in names)     # no array of the example's
    assert kinds.count("BatchNormalization") == 1
    assert ("ReduceMean" in kinds) == batch_statistics
    for batch in (4, 1 if not batch_statistics else 2, 9):
        x = rng.standard_normal((batch, 2, 6, 5)).astype(np.float32) * 3
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("shape", [(3, 6), (3, 2, 5)])
def test_batch_norm1d_without_running_stats_matches_onnx_runtime(tmp_path, shape):
    """(N, C) reduces over the batch axis alone, (N, C, L) over the batch and the length."""
    model = nn.Sequential(nn.BatchNorm1d(shape[1], track_running_stats=False), nn.Tanh()).eval()
    rng, path = np.random.default_rng(29), tmp_path / "bn1d.onnx"
    tc.onnx.export(model, rng.standard_normal(shape).astype(np.float32), path)
    for batch in (3, 7):
        x = rng.standard_normal((batch, *shape[1:])).astype(np.float32) * 2 + 1
        assert max_difference(model, path, x) < TOLERANCE


def test_batch_norm_forced_into_training_in_forward_exports_batch_statistics(tmp_path):
    """ops.batch_norm(training=True) in a forward normalises with the batch's statistics in
    evaluation mode too; the file does the same, as PyTorch's exporter does for it."""
    class Net(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(6, 4)

        def forward(self, x):
            return ops.batch_norm(self.fc(x), training=True)

    model, rng, path = Net().eval(), np.random.default_rng(31), tmp_path / "forced.onnx"
    tc.onnx.export(model, rng.standard_normal((4, 6)).astype(np.float32), path)
    for batch in (4, 6):
        x = rng.standard_normal((batch, 6)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


# ---------------------------------------------------------------- every mapped op


class Everything(nn.Module):
    """One model using every op the exporter maps (the seed's are tested above)."""

    def __init__(self):
        self.conv = nn.Conv2d(2, 4, kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))
        self.bn = nn.BatchNorm2d(4)
        self.bn_plain = nn.BatchNorm2d(4, affine=False)
        self.fc = nn.Linear(5, 3)
        self.w = tc.Value(np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3))
        self.mask = np.array([[True, False, True]] * 3)      # a constant, not the data's

    def forward(self, x):                                      # x (N, 2, 6, 5)
        h = self.bn_plain(self.bn(self.conv(x)))                # (N, 4, 3, 4)
        h = ops.avg_pool2d(ops.leaky_relu(h, 0.1), 2, stride=1, padding=1)   # (N, 4, 4, 5)
        h = ops.pad(h, ((0, 0), (0, 0), (1, 0), (0, 2)), value=0.5)          # (N, 4, 5, 7)
        h = ops.max_pool2d(h, kernel_size=(2, 3), stride=(1, 2))             # (N, 4, 4, 3)
        a = ops.cat([h, ops.square(h)], axis=1)[:, ::2, 1:, ...]             # (N, 4, 3, 3)
        b = ops.stack([h[:, 0], h[:, -1]], axis=1)[:, :, None, :2, -1]       # (N, 2, 1, 2)
        a = ops.transpose(a, (0, 2, 3, 1)).reshape(-1, 3, 12)               # (N, 3, 12)
        m = (a[:, :, :5] @ self.w) * 0.5 + ops.tanh(self.fc(a[:, :, 5:10]))  # (N, 3, 3)
        m = ops.where(self.mask, ops.sigmoid(m), ops.softplus(m) - 1.0)
        m = ops.maximum(ops.clip(m, min=-0.8), ops.minimum(m, 0.3)) / (ops.abs(m) + 2)
        m = ops.exp(m) + ops.log(ops.sqrt(m ** 2 + 1)) - ops.log_sigmoid(-m)
        stats = ops.cat([ops.var(m, axis=(1, 2), ddof=1)[:, None], m.std(axis=1),
                         m.sum(axis=2), m.mean(axis=(1, 2), keepdims=True)[:, 0],
                         ops.max(m, axis=1), ops.min(m, axis=-1),
                         b.reshape(-1, 4), a[:, 1][:, [0, 5, 2]]], axis=1)    # (N, 21)
        flat = ops.flatten(ops.softmax(stats, axis=1) - ops.log_softmax(stats, axis=-1))
        return ops.flatten(stats, 1) + (-flat.reshape(stats.shape) * 0.1)


@pytest.fixture(scope="module")
def everything():
    tc.manual_seed(1)
    model = Everything()
    rng = np.random.default_rng(1)
    for _ in range(3):                   # running statistics that are not 0 and 1
        model(tc.Value(rng.standard_normal((8, 2, 6, 5)).astype(np.float32) * 2 + 1))
    return model.eval()


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])          # axes as attributes, and as inputs
def test_every_mapped_op_matches_onnx_runtime_at_two_batch_sizes(everything, tmp_path, opset):
    rng = np.random.default_rng(2)
    path = tmp_path / "everything.onnx"
    tc.onnx.export(everything, rng.standard_normal((4, 2, 6, 5)).astype(np.float32), path,
                   opset=opset)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    for batch in (4, 1, 7):
        x = rng.standard_normal((batch, 2, 6, 5)).astype(np.float32)
        assert max_difference(everything, path, x) < TOLERANCE


@pytest.mark.parametrize("index", [
    np.s_[:, ::-1], np.s_[:, 2:0:-1, None], np.s_[..., -1], np.s_[:, None, 1, ::2],
    np.s_[:, :, np.array([[0, 2], [-1, 1]])], np.s_[..., :1:-2], np.s_[:, 0, 0], np.s_[1:],
], ids=["reversed", "negative-step-new-axis", "ellipsis-int", "new-axis-int-step",
        "2d-int-array", "ellipsis-negative-step", "two-ints", "batch-slice"])
def test_indexing_matches_onnx_runtime_at_two_batch_sizes(tmp_path, index):
    class Indexed(nn.Module):
        def __init__(self):
            self.w = tc.Value(np.linspace(1, 2, 4, dtype=np.float32))

        def forward(self, x):
            return (x * self.w)[index]

    model, rng = Indexed().eval(), np.random.default_rng(6)
    tc.onnx.export(model, rng.standard_normal((3, 4, 4)).astype(np.float32), tmp_path / "i.onnx")
    for batch in (3, 5):
        x = rng.standard_normal((batch, 4, 4)).astype(np.float32)
        assert max_difference(model, tmp_path / "i.onnx", x) == 0


def test_conv_transpose2d_matches_onnx_runtime(tmp_path):
    class Upsample(nn.Module):
        def __init__(self):
            rng = np.random.default_rng(4)
            self.w = tc.Value(rng.standard_normal((3, 2, 3, 3)).astype(np.float32))
            self.b = tc.Value(rng.standard_normal(2).astype(np.float32))

        def forward(self, x):                  # (N, 3, 5, 4) -> (N, 2, 10, 8)
            return ops.conv_transpose2d(x, self.w, self.b, stride=2, padding=1,
                                        output_padding=1)

    model, rng = Upsample().eval(), np.random.default_rng(5)
    tc.onnx.export(model, rng.standard_normal((2, 3, 5, 4)).astype(np.float32),
                   tmp_path / "up.onnx")
    for batch in (2, 3):
        x = rng.standard_normal((batch, 3, 5, 4)).astype(np.float32)
        assert max_difference(model, tmp_path / "up.onnx", x) < TOLERANCE


def test_grouped_and_depthwise_conv2d_match_onnx_runtime(tmp_path):
    class Grouped(nn.Module):
        def __init__(self):
            rng = np.random.default_rng(8)
            self.grouped = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, groups=2, rng=rng)
            self.depthwise = nn.Conv2d(6, 6, 3, padding="same", groups=6, bias=False, rng=rng)

        def forward(self, x):                                    # x (N, 4, 7, 6)
            return self.depthwise(self.grouped(x).relu())        # (N, 6, 4, 7) twice

    model, rng = Grouped().eval(), np.random.default_rng(9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # nothing to warn about
        proto = tc.onnx.export(model, rng.standard_normal((2, 4, 7, 6)).astype(np.float32),
                               tmp_path / "grouped.onnx")
    ops_used = [node.op_type for node in proto.graph.node]
    # one Conv per group, fed by Slices of the input and of the parameters, joined by a Concat
    assert ops_used.count("Conv") == 2 + 6 and ops_used.count("Concat") == 2
    assert {t.name for t in proto.graph.initializer} >= {"grouped.weight", "grouped.bias",
                                                         "depthwise.weight"}
    for batch in (2, 3, 6):
        x = rng.standard_normal((batch, 4, 7, 6)).astype(np.float32)
        assert max_difference(model, tmp_path / "grouped.onnx", x) < TOLERANCE


def test_conv_transpose2d_layers_plain_and_grouped_match_onnx_runtime(tmp_path):
    class Decoder(nn.Module):
        def __init__(self):
            rng = np.random.default_rng(10)
            self.up = nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, rng=rng)
            self.grouped = nn.ConvTranspose2d(6, 4, (3, 2), stride=(2, 1), padding=(1, 0),
                                              output_padding=(1, 0), groups=2, rng=rng)
            self.depthwise = nn.ConvTranspose2d(4, 4, 3, groups=4, bias=False, rng=rng)

        def forward(self, x):                                    # x (N, 4, 3, 5)
            h = self.up(x).relu()                                # (N, 6, 6, 10)
            return self.depthwise(self.grouped(h))               # (N, 4, 12, 11), (N, 4, 14, 13)

    model, rng = Decoder().eval(), np.random.default_rng(11)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # nothing to warn about
        proto = tc.onnx.export(model, rng.standard_normal((2, 4, 3, 5)).astype(np.float32),
                               tmp_path / "decoder.onnx")
    onnx.checker.check_model(proto, full_check=True)
    ops_used = [node.op_type for node in proto.graph.node]
    # the plain layer is one ConvTranspose; a grouped one is one per group, joined by a Concat
    assert ops_used.count("ConvTranspose") == 1 + 2 + 4 and ops_used.count("Concat") == 2
    assert {t.name for t in proto.graph.initializer} >= {"up.weight", "up.bias",
                                                         "grouped.weight", "grouped.bias",
                                                         "depthwise.weight"}
    for batch in (2, 3):
        x = rng.standard_normal((batch, 4, 3, 5)).astype(np.float32)
        assert ours(model, x).shape == (batch, 4, 14, 13)
        assert max_difference(model, tmp_path / "decoder.onnx", x) < TOLERANCE


def test_dilated_convolutions_match_onnx_runtime(tmp_path):
    class Dilated(nn.Module):
        def __init__(self):
            rng = np.random.default_rng(12)
            self.same = nn.Conv2d(2, 4, 2, padding="same", dilation=(3, 2), rng=rng)
            self.grouped = nn.Conv2d(4, 4, 3, stride=(2, 1), padding=2, dilation=2, groups=2,
                                     rng=rng)
            # output_padding >= stride, which ONNX Runtime's ConvTranspose refuses: with enough
            # padding it comes off the end padding; without, zeros are padded on, then the bias
            self.padded = nn.ConvTranspose2d(4, 3, 3, padding=2, output_padding=(2, 1),
                                             dilation=(3, 2), rng=rng)
            self.unpadded = nn.ConvTranspose2d(3, 2, 2, output_padding=1, dilation=2, rng=rng)

        def forward(self, x):                                    # x (N, 2, 7, 6)
            h = self.grouped(self.same(x).relu())                # (N, 4, 7, 6), (N, 4, 4, 6)
            return self.unpadded(self.padded(h))                 # (N, 3, 8, 7), (N, 2, 11, 10)

    model, rng = Dilated().eval(), np.random.default_rng(13)
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 7, 6)).astype(np.float32),
                           tmp_path / "dilated.onnx")
    onnx.checker.check_model(proto, full_check=True)
    dilations = [[list(a.ints) for a in node.attribute if a.name == "dilations"][0]
                 for node in proto.graph.node if node.op_type in ("Conv", "ConvTranspose")]
    assert dilations == [[3, 2], [2, 2], [2, 2], [3, 2], [2, 2]]
    assert [node.op_type for node in proto.graph.node].count("Pad") == 2    # "same", unpadded
    for batch in (2, 3):
        x = rng.standard_normal((batch, 2, 7, 6)).astype(np.float32)
        assert ours(model, x).shape == (batch, 2, 11, 10)
        assert max_difference(model, tmp_path / "dilated.onnx", x) < TOLERANCE


class PaddedCopies(nn.Module):
    """Conv2d and Conv1d ("same", an even kernel) in one padding_mode, and ops.pad in that mode
    on two axes: (N, 2, 6, 5) -> (N, 3, 6, 7) -> (N, 3, 42) -> (N, 2, 42) -> (N, 2, 45)."""

    def __init__(self, mode):
        rng = np.random.default_rng(21)
        self.mode = mode
        self.conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode, rng=rng)
        self.conv1d = nn.Conv1d(3, 2, 4, padding="same", padding_mode=mode, rng=rng)

    def forward(self, x):
        h = self.conv(x).relu()
        h = self.conv1d(h.reshape(-1, 3, 42))
        return ops.pad(h, ((0, 0), (1, 0), (2, 1)), mode=self.mode)


@pytest.mark.parametrize("mode, onnx_mode, opset", [
    ("reflect", "reflect", 17), ("replicate", "edge", 13), ("circular", "wrap", 19)])
def test_padding_modes_export_as_onnx_pad_modes(tmp_path, mode, onnx_mode, opset):
    model, rng = PaddedCopies(mode).eval(), np.random.default_rng(22)
    path = tmp_path / "padded.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 6, 5)).astype(np.float32), path,
                           opset=opset)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    pads = [node for node in proto.graph.node if node.op_type == "Pad"]
    assert len(pads) == 3                     # the two layers' and the bare op's
    for node in pads:
        assert [a.s.decode() for a in node.attribute if a.name == "mode"] == [onnx_mode]
        assert len(node.input) == 2           # no constant value in a copying mode
    for batch in (2, 3):
        x = rng.standard_normal((batch, 2, 6, 5)).astype(np.float32)
        assert ours(model, x).shape == (batch, 3, 45)
        assert max_difference(model, path, x) < TOLERANCE


def test_circular_padding_before_opset_19_is_refused_with_the_opset_that_works(tmp_path):
    refused_below_opset(PaddedCopies("circular").eval(), np.zeros((2, 2, 6, 5), np.float32),
                        tmp_path / "c.onnx", 19,
                        r"^onnx\.export: pad with mode='circular' \(module 'conv'\) needs ONNX "
                        r"Pad's mode 'wrap', which exists from opset 19 on, but the export asked "
                        r"for opset 17; expected opset >= 19; pass opset=19")


def refused_below_opset(model, x, path, opset: int, match: str) -> None:
    """Exporting model at the default opset 17 raises `match` and writes nothing; the opset the
    error names (`opset`) exports it: the fix works."""
    with pytest.raises(ValueError, match=match):
        tc.onnx.export(model, x, path)
    assert not path.exists()
    tc.onnx.export(model, x, path, opset=opset)


def test_padded_max_pool2d_matches_onnx_runtime(tmp_path):
    class PaddedPools(nn.Module):
        def __init__(self):
            self.stem = nn.MaxPool2d(3, 2, padding=1)            # ResNet's stem pool

        def forward(self, x):                                    # x (N, 2, 9, 8)
            h = self.stem(x)                                     # (N, 2, 5, 4)
            return ops.max_pool2d(h, (2, 3), stride=(1, 2), padding=(1, 0))   # (N, 2, 6, 1)

    model, rng = PaddedPools().eval(), np.random.default_rng(7)
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 9, 8)).astype(np.float32),
                           tmp_path / "pools.onnx")
    onnx.checker.check_model(proto, full_check=True)
    pads = [[list(a.ints) for a in node.attribute if a.name == "pads"][0]
            for node in proto.graph.node if node.op_type == "MaxPool"]
    assert pads == [[1, 1, 1, 1], [1, 0, 1, 0]]
    for batch in (2, 3):
        # all below zero, so a zero padding would win edge windows where -inf padding never does
        x = rng.standard_normal((batch, 2, 9, 8)).astype(np.float32) - 10
        (got,) = run_ort(tmp_path / "pools.onnx", x)
        expected = ours(model, x)
        assert got.shape == expected.shape == (batch, 2, 6, 1) and (expected < -5).all()
        np.testing.assert_array_equal(got, expected)            # a maximum is exact


class CeilPools(nn.Module):
    """PyTorch's pool options: (N, 2, 8, 9) -> (N, 2, 5, 5) -> (N, 2, 3, 3) -> (N, 2, 2, 2)."""

    def __init__(self):
        self.stem = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)           # 8 rows -> 5, not 4
        # ceil_mode adds no window here (5 -> 3 either way); the padding is left out of means
        self.exclude = nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)
        self.hang = nn.AvgPool2d(2, ceil_mode=True)     # 3 -> 2: last windows of 2 and 1 elements

    def forward(self, x):
        return self.hang(self.exclude(self.stem(x)))


def test_ceil_mode_and_count_include_pad_match_onnx_runtime(tmp_path):
    model, rng, path = CeilPools().eval(), np.random.default_rng(8), tmp_path / "ceil.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # nothing to warn about
        proto = tc.onnx.export(model, rng.standard_normal((2, 2, 8, 9)).astype(np.float32), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)

    def settings(node):
        return {a.name: a.i for a in node.attribute if a.name in ("ceil_mode", "count_include_pad")}

    assert [(node.op_type, settings(node)) for node in proto.graph.node] == [
        ("MaxPool", {"ceil_mode": 1}), ("AveragePool", {"count_include_pad": 0}),
        ("AveragePool", {"count_include_pad": 1, "ceil_mode": 1})]
    for batch in (2, 3):
        x = rng.standard_normal((batch, 2, 8, 9)).astype(np.float32)
        assert ours(model, x).shape == (batch, 2, 2, 2)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.parametrize("settings, opset", [
    ((3, 2, 1, False, True, 5), 17), ((2, 2, 0, True, False, 3), 17),
    ((3, 2, 1, True, True, -2), 22)])          # ceil_mode adds a window: opset 22
def test_divisor_override_exports_as_the_mean_times_a_constant(tmp_path, settings, opset):
    model = nn.Sequential(nn.AvgPool2d(*settings)).eval()
    rng, path = np.random.default_rng(25), tmp_path / "d.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 3, 7, 6)).astype(np.float32), path,
                           opset=opset)
    assert [node.op_type for node in proto.graph.node] == ["AveragePool", "Mul"]
    for batch in (1, 3):
        x = rng.standard_normal((batch, 3, 7, 6)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


def test_ceil_mode_where_onnx_before_opset_22_counts_a_window_more_is_refused(tmp_path):
    # 7 rows, 2-windows at stride 3 with padding 1: ceil_mode's 4th row of windows would start
    # in the padding, so PyTorch keeps 3, while 6 columns, 3-windows, get a 3rd window
    model = nn.Sequential(nn.MaxPool2d((2, 3), 3, padding=1, ceil_mode=True)).eval()
    x = np.random.default_rng(9).standard_normal((2, 2, 7, 6)).astype(np.float32)
    refused_below_opset(model, x, tmp_path / "m.onnx", 22,
                        r"^onnx\.export: MaxPool2d with ceil_mode=True \(module '0'\) has 3x3 "
                        r"windows on its 7x6 input, as PyTorch, where ONNX's shape inference "
                        r"before opset 22 counts 4x3 .* asked for opset 17; expected opset >= 22; "
                        r"pass opset=22")
    (got,) = run_ort(tmp_path / "m.onnx", x)
    np.testing.assert_array_equal(got, ours(model, x))
    assert got.shape == (2, 2, 3, 3)


class PoolUnpool(nn.Module):
    """A dilated max pool with its indices, the unpool back to the input's size, and the indices
    as an output too: (N, 2, H, W) -> (N, 2, OH, OW) twice -> (N, 2, H, W); `spatial` 1 pools
    the (N, 2, 8) signals instead. `mix` makes the values a plane's duplicate indices carry
    differ, so the last write is seen."""

    def __init__(self, spatial, kernel_size, stride, padding, dilation, ceil_mode, mix=False):
        pool, unpool = (nn.MaxPool2d, nn.MaxUnpool2d) if spatial == 2 else (nn.MaxPool1d,
                                                                            nn.MaxUnpool1d)
        self.pool = pool(kernel_size, stride, padding, dilation, True, ceil_mode)
        self.unpool = unpool(kernel_size, stride, padding)
        self.mix = mix

    def forward(self, x):
        out, indices = self.pool(x)
        values = ops.cumsum(out, axis=-1) if self.mix else out * 2
        return self.unpool(values, indices, x.shape[2:]), indices, out


@pytest.mark.parametrize("spatial, settings, shape, opset", [
    (2, (2, None, 0, 1, False), (2, 2, 9, 8), 17),         # the 9th row left out: output_size
    (2, (2, 2, 1, 2, False), (2, 2, 9, 9), 17),            # dilated, padded
    (2, ((2, 3), (2, 2), (1, 1), 1, True), (2, 2, 9, 8), 22),       # pairs, ceil_mode
    (1, (3, 2, 1, 2, True), (2, 2, 8), 22),
])
def test_dilated_max_pool_indices_and_max_unpool_match_onnx_runtime(tmp_path, spatial, settings,
                                                                   shape, opset):
    model, rng, path = PoolUnpool(spatial, *settings).eval(), np.random.default_rng(21), \
        tmp_path / "unpool.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # nothing to warn about
        proto = tc.onnx.export(model, rng.standard_normal(shape).astype(np.float32), path,
                               opset=opset)
    (pool,) = [node for node in proto.graph.node if node.op_type == "MaxPool"]
    assert len(pool.output) == 2                                 # Values and Indices
    dilation = settings[3] if isinstance(settings[3], tuple) else (1,) * (2 - spatial) + (
        settings[3],) * spatial
    dilations = [list(a.ints) for a in pool.attribute if a.name == "dilations"]
    assert dilations == ([] if set(dilation) == {1} else [list(dilation)])
    assert [node.op_type for node in proto.graph.node].count("MaxUnpool") == 1
    for batch in (2, 3):
        x = rng.permutation(batch * int(np.prod(shape[1:]))).reshape(batch, *shape[1:])
        x = x.astype(np.float32)
        got = run_ort(path, x)
        with tc.no_grad():
            expected = model(tc.Value(x))
        for ort_out, our_out in zip(got, expected, strict=True):
            assert ort_out.dtype == our_out.dtype
            np.testing.assert_array_equal(ort_out, our_out.data)


def test_max_unpool_with_duplicate_indices_writes_the_last_in_onnx_runtime_too(tmp_path):
    # 3x3 windows at stride 1 share their maxima; the values unpooled differ (a cumsum)
    model, rng = PoolUnpool(2, 3, 1, 1, 1, False, mix=True).eval(), np.random.default_rng(22)
    x = rng.standard_normal((2, 2, 9, 8)).astype(np.float32)
    tc.onnx.export(model, x, tmp_path / "dup.onnx")
    _, indices, _ = model(tc.Value(x))
    assert np.bincount(indices.data[0, 0].ravel()).max() > 1            # duplicates indeed
    (got, _, _), (expected, _, _) = run_ort(tmp_path / "dup.onnx", x), model(tc.Value(x))
    np.testing.assert_allclose(got, expected.data, rtol=1e-6, atol=1e-6)


def test_max_unpool_of_indices_that_are_not_a_pools_output_is_refused(tmp_path):
    indices = np.arange(16).reshape(1, 1, 4, 4) % 4

    class Fixed(nn.Module):
        def forward(self, x):                    # indices from outside the model: a constant
            return ops.max_unpool2d(x, np.broadcast_to(indices, x.shape), 2)

    with pytest.raises(ValueError, match=r"^onnx\.export: max_unpool \(module ''\) takes indices "
                                         r"of shape \(2, 1, 4, 4\) that are a constant of the "
                                         r"graph, not the Indices of a MaxPool exported before "
                                         r"it, .*; compute them in forward with "
                                         r"return_indices=True$"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")      # the constant with the batch size, warned of
            tc.onnx.export(Fixed(), np.ones((2, 1, 4, 4), np.float32), tmp_path / "f.onnx")
    # the fix: the pool inside forward
    tc.onnx.export(PoolUnpool(2, 2, None, 0, 1, False).eval(),
                   np.ones((2, 1, 8, 8), np.float32), tmp_path / "ok.onnx")


def test_an_output_that_is_a_constant_of_the_trace_is_refused(tmp_path):
    class IndicesOnly(nn.Module):          # the pooled output unused: its pool is not exported
        def __init__(self, both):
            self.pool, self.both = nn.MaxPool2d(2, return_indices=True), both

        def forward(self, x):
            out, indices = self.pool(x)
            return (out if self.both else x * 2), indices

    x = np.random.default_rng(23).standard_normal((2, 1, 4, 4)).astype(np.float32)
    with pytest.raises(ValueError, match=r"^onnx\.export: output_1 \(shape \(2, 1, 2, 2\), dtype "
                                         r"int64\) is a constant of this trace, .* return or use "
                                         r"the pooled output as well\)$"):
        tc.onnx.export(IndicesOnly(both=False).eval(), x, tmp_path / "i.onnx")
    assert not os.listdir(tmp_path)
    tc.onnx.export(IndicesOnly(both=True).eval(), x, tmp_path / "i.onnx")   # the fix named
    other = np.random.default_rng(24).standard_normal((3, 1, 4, 4)).astype(np.float32)
    _, got = run_ort(tmp_path / "i.onnx", other)
    np.testing.assert_array_equal(got, IndicesOnly(both=True)(tc.Value(other))[1].data)


class Signals(nn.Module):
    """Conv1d ("same", an even kernel), MaxPool1d, a grouped dilated Conv1d, AvgPool1d, then a
    linear layer: (N, 2, 16) -> (N, 4, 16) -> (N, 4, 8) -> (N, 4, 4) -> (N, 4, 3) -> (N, 5)."""

    def __init__(self):
        rng = np.random.default_rng(14)
        self.conv = nn.Conv1d(2, 4, 4, padding="same", rng=rng)
        self.pool = nn.MaxPool1d(3, 2, padding=1)
        self.grouped = nn.Conv1d(4, 4, 3, stride=2, padding=2, rng=rng, groups=2, dilation=2)
        self.avg = nn.AvgPool1d(2, padding=1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4 * 3, 5, rng=rng)

    def forward(self, x):
        h = self.pool(self.conv(x).relu())
        return self.fc(self.flatten(self.avg(self.grouped(h))))


def test_conv1d_and_1d_pools_match_onnx_runtime(tmp_path):
    model, rng = Signals().eval(), np.random.default_rng(15)
    path = tmp_path / "signals.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # nothing to warn about
        proto = tc.onnx.export(model, rng.standard_normal((2, 2, 16)).astype(np.float32), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    nodes = [node for node in proto.graph.node if node.op_type != "Reshape"]
    # the 1-D layers are the 2-D ops on 1 x L images, between Reshapes; "same" with an even
    # kernel pads the end once
    assert [n.op_type for n in nodes][:3] == ["Pad", "Conv", "Relu"]
    assert [n.op_type for n in nodes].count("Conv") == 1 + 2      # the grouped one: per group

    def attribute(node, name):
        return [list(a.ints) for a in node.attribute if a.name == name][0]

    (max_pool,) = [n for n in nodes if n.op_type == "MaxPool"]
    (avg_pool,) = [n for n in nodes if n.op_type == "AveragePool"]
    assert attribute(max_pool, "kernel_shape") == [1, 3] and attribute(max_pool, "pads") == [
        0, 1, 0, 1]
    assert attribute(avg_pool, "kernel_shape") == [1, 2] and attribute(avg_pool, "strides") == [
        1, 2]
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    assert initializers["conv.weight"].shape == (4, 2, 4)      # PyTorch's Conv1d layout
    assert initializers["grouped.weight"].shape == (4, 2, 3)
    for batch in (2, 3, 6):
        x = rng.standard_normal((batch, 2, 16)).astype(np.float32)
        assert ours(model, x).shape == (batch, 5)
        assert max_difference(model, path, x) < TOLERANCE


ONE_D_NODES = [
    (lambda: nn.Conv1d(2, 4, 3), ["Reshape", "Reshape", "Conv", "Reshape"]),
    (lambda: nn.Conv1d(2, 4, 3, padding="same", dilation=3, bias=False),
     ["Reshape", "Reshape", "Conv", "Reshape"]),
    (lambda: nn.Conv1d(2, 4, 4, padding="same"), ["Pad", "Reshape", "Reshape", "Conv", "Reshape"]),
    (lambda: nn.Conv1d(2, 4, 3, groups=2),
     ["Reshape", "Slice", "Reshape", "Slice", "Slice", "Conv", "Slice", "Slice", "Slice", "Conv",
      "Concat", "Reshape"]),
    (lambda: nn.MaxPool1d(3, 2, padding=1), ["Reshape", "MaxPool", "Reshape"]),
    (lambda: nn.AvgPool1d(2), ["Reshape", "AveragePool", "Reshape"]),
]


@pytest.mark.parametrize("make, op_types", ONE_D_NODES)
def test_1d_layers_export_as_docs_ops_md_says(tmp_path, make, op_types):
    """docs/ops.md: a 1-D pool is the 2-D node between two Reshapes; a 1-D convolution has three
    (x's and the weight's before the Conv, the result's after it), a Pad first for an even
    kernel's "same", Slices, a Conv per group and a Concat for groups > 1."""
    model, rng = make().eval(), np.random.default_rng(19)
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 16)).astype(np.float32),
                           tmp_path / "m.onnx")
    assert [node.op_type for node in proto.graph.node] == op_types
    assert max_difference(model, tmp_path / "m.onnx",
                          rng.standard_normal((3, 2, 16)).astype(np.float32)) < TOLERANCE
    text = " ".join((Path(__file__).parents[1] / "docs" / "ops.md").read_text().split())
    assert ("a 1-D pool is the 2-D node (`MaxPool` or `AveragePool`, with a 1 x K kernel) "
            "between two `Reshape`s" in text)
    assert "A 1-D convolution has three `Reshape`s around its `Conv`" in text
    assert "puts a `Pad` of one zero at the end of x before them all" in text


class AdaptiveHead(nn.Module):
    """conv -> adaptive average pooling -> flatten -> linear -> a softmax layer:
    (N, 2, 8, 10) -> (N, 3, 6, 8) -> (N, 3, OH, OW) -> (N, 4)."""

    def __init__(self, output_size, last):
        oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
        self.conv = nn.Conv2d(2, 3, 3)
        self.pool = nn.AdaptiveAvgPool2d(output_size)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(3 * (oh or 6) * (ow or 8), 4)
        self.last = last

    def forward(self, x):
        return self.last(self.fc(self.flatten(self.pool(self.conv(x)))))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("output_size, pool_nodes, last", [
    (1, ["GlobalAveragePool"], "LogSoftmax"),             # global average pooling
    ((3, 4), ["AveragePool"], "LogSoftmax"),              # 2x2 bins that tile the 6x8 map
    ((2, None), ["AveragePool"], "Softmax"),              # 3x1 bins, None keeps W
    ((4, 5), ["MatMul", "MatMul"], "LogSoftmax"),         # bins of different sizes, overlapping
    ((None, 3), ["MatMul", "MatMul"], "Softmax"),         # 8 columns into 3 bins
    ((9, 11), ["MatMul", "MatMul"], "LogSoftmax"),        # larger than the map
])
def test_adaptive_avg_pool2d_and_softmax_layers_match_onnx_runtime(tmp_path, output_size,
                                                                   pool_nodes, last):
    tc.manual_seed(0)
    model = AdaptiveHead(output_size, getattr(nn, last)(dim=1)).eval()
    rng = np.random.default_rng(8)
    path = tmp_path / "adaptive.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 8, 10)).astype(np.float32), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    assert [node.op_type for node in proto.graph.node] == ["Conv", *pool_nodes, "Flatten", "Gemm",
                                                           last]
    assert [node.name for node in proto.graph.node][1] == f"/pool/{pool_nodes[0]}"
    for batch in (2, 5):
        x = rng.standard_normal((batch, 2, 8, 10)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


def test_buffers_are_initializers_under_their_state_dict_names(everything, tmp_path):
    proto = tc.onnx.export(everything, np.zeros((2, 2, 6, 5), np.float32), tmp_path / "e.onnx")
    initializers = {t.name: onnx.numpy_helper.to_array(t) for t in proto.graph.initializer}
    state = everything.state_dict()
    for name in ("bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                 "bn_plain.running_mean", "bn_plain.running_var", "conv.weight", "w"):
        np.testing.assert_array_equal(initializers[name], state[name])
    assert np.abs(state["bn.running_mean"]).max() > 0.05     # really trained statistics


def test_frozen_parameters_are_exported_and_stay_frozen(seed_cnn, tmp_path):
    seed_cnn.conv1.weight.requires_grad = False
    try:
        proto = tc.onnx.export(seed_cnn, mnist_batch(2), tmp_path / "frozen.onnx")
        assert seed_cnn.conv1.weight.requires_grad is False
        assert "conv1.weight" in {t.name for t in proto.graph.initializer}
    finally:
        seed_cnn.conv1.weight.requires_grad = True
    assert max_difference(seed_cnn, tmp_path / "frozen.onnx", mnist_batch(3)) < TOLERANCE


def test_tuple_outputs_and_a_value_as_example_input(tmp_path):
    class TwoHeads(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            logits = self.fc(x)
            return logits, ops.softmax(logits, axis=1), x

    model = TwoHeads().eval()
    x = np.random.default_rng(3).standard_normal((2, 4)).astype(np.float32)
    proto = tc.onnx.export(model, tc.Value(x), tmp_path / "two.onnx")
    assert [o.name for o in proto.graph.output] == ["output_0", "output_1", "output_2"]
    logits, probabilities, same = run_ort(tmp_path / "two.onnx", x)
    np.testing.assert_allclose(logits, model(tc.Value(x))[0].data, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(same, x)


class Lambda(nn.Module):
    """A model whose forward is the function given: one op under test, no parameters."""

    def __init__(self, fn):
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize("fn", [
    lambda x: ops.broadcast_to(x[:, :1], x.shape),                 # (N, 1) -> (N, 3)
    lambda x: ops.broadcast_to(x[:, None, :1], (x.shape[0], 2, 3)),  # (N, 1, 1) -> (N, 2, 3)
    lambda x: ops.broadcast_to(x[:, :1], (2, *x.shape)),           # a new leading axis
], ids=["column", "middle-axis", "new-axis"])
def test_broadcast_to_follows_the_batch_size(tmp_path, fn):
    model, rng = Lambda(fn).eval(), np.random.default_rng(7)
    tc.onnx.export(model, rng.standard_normal((2, 3)).astype(np.float32), tmp_path / "b.onnx")
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        assert max_difference(model, tmp_path / "b.onnx", x) < TOLERANCE


@pytest.mark.parametrize("opset", [13, 18])          # ReduceProd's axes: attribute, input
@pytest.mark.parametrize("fn", [
    lambda x: ops.var(x, axis=0, ddof=1),
    lambda x: ops.std(x, ddof=1),                                  # axis=None: every axis
    lambda x: ops.var(x, axis=(0, 2), ddof=2, keepdims=True),
    lambda x: ops.std(x, axis=2, ddof=1),                         # the batch not reduced
], ids=["var-batch", "std-all", "var-batch-keepdims", "std-other-axis"])
def test_var_and_std_with_ddof_count_the_batch_at_run_time(tmp_path, fn, opset):
    model, rng = Lambda(fn).eval(), np.random.default_rng(8)
    tc.onnx.export(model, rng.standard_normal((2, 3, 4)).astype(np.float32),
                   tmp_path / "v.onnx", opset=opset)
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3, 4)).astype(np.float32)
        assert max_difference(model, tmp_path / "v.onnx", x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])          # ReduceLogSumExp's axes: attribute, input
@pytest.mark.parametrize("fn, nodes", [
    (lambda x: ops.sin(x) * x.cos(), {"Sin", "Cos"}),
    (lambda x: ops.log1p(x * x) + ops.expm1(x), {"Log", "Exp"}),
    (lambda x: ops.logsumexp(x, axis=1), {"ReduceLogSumExp"}),
    (lambda x: x.logsumexp(axis=(0, 2), keepdims=True), {"ReduceLogSumExp"}),   # the batch too
    (lambda x: ops.cumsum(x, axis=-1) - x.cumsum(axis=0), {"CumSum"}),
    (lambda x: ops.cumsum(x), {"Reshape", "CumSum"}),                # flattened, the batch too
    (lambda x: ops.cumsum(x.sum(), axis=0), {"Reshape", "CumSum"}),  # a 0-d x: numpy's 1-D
], ids=["sin-cos", "log1p-expm1", "logsumexp", "logsumexp-batch-keepdims", "cumsum",
        "cumsum-flattened", "cumsum-0d"])
def test_sin_cos_log1p_expm1_logsumexp_cumsum_match_onnx_runtime(tmp_path, fn, nodes, opset):
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(10), tmp_path / "n.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 3, 4)).astype(np.float32), path,
                           opset=opset)
    assert nodes <= {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE
    assert {"Sin", "Cos", "Log1p", "Expm1", "LogSumExp", "CumSum"} <= set(tc.onnx.supported_ops())


@pytest.mark.parametrize("opset", [13, 14])
def test_a_float16_cumsum_exports_before_opset_14_through_float32(tmp_path, opset):
    """ONNX's CumSum takes float16 from opset 14 on: before, the file sums in float32 and casts
    back (numpy sums in float16, so the two round apart by a few float16 steps)."""
    model = Lambda(lambda x: ops.cumsum(x, axis=1)).eval()
    x = np.random.default_rng(17).standard_normal((3, 6)).astype(np.float16)
    proto = tc.onnx.export(model, x, tmp_path / "c16.onnx", opset=opset)
    assert ("Cast" in {node.op_type for node in proto.graph.node}) == (opset < 14)
    (got,) = run_ort(tmp_path / "c16.onnx", x)
    assert got.dtype == np.float16
    np.testing.assert_allclose(got, ours(model, x), atol=1e-2)


def test_logsumexp_of_large_and_infinite_values_in_onnx_runtime(tmp_path):
    """ONNX Runtime's ReduceLogSumExp shifts by the maximum too: finite at +-1e4 in float32,
    where e^x alone overflows, and -inf for a row of -infs."""
    model = Lambda(lambda x: ops.logsumexp(x, axis=1)).eval()
    x = np.array([[1e4, 1e4, 0.0], [-1e4, -1e4, -3e4], [80.0, 90.0, 100.0],
                  [-np.inf, -np.inf, -np.inf]], dtype=np.float32)
    tc.onnx.export(model, x[:2], tmp_path / "l.onnx")
    (got,) = run_ort(tmp_path / "l.onnx", x)
    np.testing.assert_allclose(got, ours(model, x), rtol=1e-6)      # a float32 rounding
    np.testing.assert_allclose(got[:3], [1e4 + np.log(2), -1e4 + np.log(2), 100.0000454],
                               rtol=1e-6)
    assert got[3] == -np.inf


def test_logaddexp_of_infinite_and_far_apart_values_in_onnx_runtime(tmp_path):
    """Equal infinities give that infinity (numpy's), not the NaN of inf - inf; one infinity
    gives the other input or +inf; pairs far apart give the larger without overflow."""
    model = Lambda(lambda x: ops.logaddexp(x[:, 0], x[:, 1])).eval()
    inf = np.inf
    x = np.array([[inf, inf], [-inf, -inf], [-inf, 2.0], [inf, -3.0], [-inf, inf],
                  [1e4, -1e4], [0.5, 0.5], [-90.0, -100.0]], dtype=np.float32)
    tc.onnx.export(model, x[:2], tmp_path / "l.onnx")
    (got,) = run_ort(tmp_path / "l.onnx", x)
    expected = np.logaddexp(x[:, 0], x[:, 1])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_array_equal(got[:5], [inf, -inf, 2.0, inf, inf])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])
@pytest.mark.parametrize("reduction", ["sum", "mean", "max", "min", "logsumexp", "var", "std"])
def test_a_reduction_over_no_axes_exports_as_identity(tmp_path, reduction, opset):
    """numpy's axis=() reduces nothing (var: zeros), where ONNX's empty axes would reduce
    everything: the file keeps x's shape and values."""
    model = Lambda(lambda x: getattr(ops, reduction)(x, axis=())).eval()
    rng, path = np.random.default_rng(16), tmp_path / "none.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 3)).astype(np.float32), path,
                           opset=opset)
    assert "Identity" in {node.op_type for node in proto.graph.node}
    x = rng.standard_normal((5, 3)).astype(np.float32)
    assert max_difference(model, path, x) == 0.0


def test_an_output_that_is_the_input_exports_as_identity(tmp_path):
    model = nn.Sequential(nn.Identity()).eval()
    proto = tc.onnx.export(model, np.ones((2, 3), np.float32), tmp_path / "id.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Identity"]
    x = np.random.default_rng(9).standard_normal((5, 3)).astype(np.float32)
    (got,) = run_ort(tmp_path / "id.onnx", x)
    np.testing.assert_array_equal(got, x)


# ---------------------------------------------------------------- the zoo networks


ZOO = load_example("examples/zoo/models.py", "zoo_models").MODELS     # name -> (class, loss)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_network_runs_in_onnx_runtime_like_ours(name, tmp_path):
    network, _ = ZOO[name]
    tc.manual_seed(0)
    model = network()
    if list(model.buffers()):            # batch norm's running statistics move off 0 and 1
        for offset in (0, 16):
            model(tc.Value(mnist_batch(16, offset)))
    model.eval()
    path = tmp_path / f"{name}.onnx"
    tc.onnx.export(model, mnist_batch(4), path)
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    for batch, offset in ((4, 200), (9, 300)):
        assert max_difference(model, path, mnist_batch(batch, offset)) < TOLERANCE


# ---------------------------------------------------------------- errors


class Swish(tc.Function):
    """x * sigmoid(x): a user's own op, which the exporter cannot know."""

    def forward(self, x):
        return x / (1 + np.exp(-x))

    def backward(self, grad):
        x, out = self.saved()
        s = 1 / (1 + np.exp(-x))
        return grad * (s + out * (1 - s))


class SwishNet(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        return Swish.apply(self.fc(x))


def test_an_op_without_mapping_is_named_with_what_to_do(tmp_path):
    with pytest.raises(ValueError, match=r"onnx\.export: op Swish \(test_onnx\.Swish, in module "
                                         r"''\) has no ONNX mapping; expected one of: Abs, .*Add, "
                                         r".*Conv2d.*; write the layer's forward with "
                                         r"tinygrad_cnn\.ops functions"):
        tc.onnx.export(SwishNet().eval(), np.ones((2, 4), np.float32), tmp_path / "swish.onnx")
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("loss, op", [
    (lambda y: ops.cross_entropy(y, np.array([0, 2])), "CrossEntropy"),
    (lambda y: ops.l1_loss(y, np.zeros((2, 3), np.float32)), "L1Loss"),
    (lambda y: ops.huber_loss(y, np.zeros((2, 3), np.float32)), "HuberLoss"),
    (lambda y: ops.smooth_l1_loss(y, np.zeros((2, 3), np.float32)), "SmoothL1Loss"),
    (lambda y: ops.binary_cross_entropy(ops.sigmoid(y), np.ones((2, 3), np.float32)),
     "BinaryCrossEntropy"),
    (lambda y: ops.kl_div(ops.log_softmax(y), np.full((2, 3), 1 / 3, np.float32)), "KLDiv")])
def test_a_loss_inside_the_model_says_to_export_the_predictions(tmp_path, loss, op):
    class WithLoss(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return loss(self.fc(x))

    with pytest.raises(ValueError, match=rf"op {op} .* export the model that computes the "
                                         r"predictions \(e.g. the logits\), without its loss"):
        tc.onnx.export(WithLoss().eval(), np.ones((2, 4), np.float32), tmp_path / "loss.onnx")


def test_unsupported_indexing_is_named(tmp_path):
    class Masked(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(x)[np.array([True, False])]

    with pytest.raises(ValueError, match=r"onnx\.export: GetItem \(module ''\) with index .* "
                                         r"has no ONNX mapping; expected ints, slices"):
        tc.onnx.export(Masked().eval(), np.ones((2, 4), np.float32), tmp_path / "mask.onnx")


@pytest.mark.parametrize("opset", [12, 99, 17.0, True, "17"])
def test_unsupported_opset(seed_cnn, tmp_path, opset):
    with pytest.raises(ValueError, match=rf"onnx\.export: opset {opset!r} is not supported; "
                                         rf"expected an int from 13 to \d+"):
        tc.onnx.export(seed_cnn, mnist_batch(1), tmp_path / "m.onnx", opset=opset)


@pytest.mark.parametrize("model, example, error, message", [
    ("not a model", np.ones((1, 4), np.float32), TypeError,
     r"onnx\.export: model is a str; expected a tinygrad_cnn\.nn\.Module"),
    (None, [[1.0, 2.0, 3.0, 4.0]], TypeError,
     r"onnx\.export: example_input is a list; expected a numpy array or a Value"),
    (None, np.float32(1.0), TypeError, r"example_input is a float32"),
    (None, np.ones((), np.float32), ValueError,
     r"onnx\.export: example_input has shape \(\); expected a batch axis first"),
    (None, np.ones((0, 4), np.float32), ValueError, r"has shape \(0, 4\); expected a batch"),
    (None, np.ones((1, 4)), TypeError,
     r"onnx\.export: example_input has dtype float64 but the model computes in float32; "
     r"expected the parameters' dtype; pass example_input\.astype\(np\.float32\)"),
    (None, np.ones((2, 4), np.bool_), TypeError,
     r"onnx\.export: example_input has dtype bool; expected a float array \(or integer ids, for "
     r"a model that looks them up with an embedding\); pass example_input\.astype\(np\.float32\)"
     r" \(or the parameters' dtype\) to a model that computes on numbers"),
    (None, tc.Value(np.ones((2, 4), np.bool_)), TypeError, r"example_input has dtype bool"),
])
def test_bad_arguments(tmp_path, model, example, error, message):
    model = nn.Linear(4, 2).eval() if model is None else model
    with pytest.raises(error, match=message):
        tc.onnx.export(model, example, tmp_path / "m.onnx")


class OneChannel(nn.Module):
    """Conv2d(1, 2, 3) -> AvgPool2d(2): (N, 1, 6, 6) -> (N, 2, 2, 2), or one image (1, 6, 6)."""

    def __init__(self):
        self.conv = nn.Conv2d(1, 2, 3, rng=np.random.default_rng(16))
        self.pool = nn.AvgPool2d(2)

    def forward(self, x):
        return self.pool(self.conv(x))


class AddsTheChannelAxis(OneChannel):
    """Takes (N, 6, 6) and makes it (N, 1, 6, 6) itself: a batch, though it has 3 axes."""

    def forward(self, x):
        return super().forward(x.reshape(x.shape[0], 1, 6, 6))


UNBATCHED_EXAMPLES = [
    (lambda: nn.Sequential(nn.Conv1d(2, 4, 3, padding="same"), nn.ReLU(), nn.MaxPool1d(2)),
     (2, 16), "layer '0' (Conv1d) gets one unbatched signal (C, L) of shape (2, 16) from it; "
              "expected a batch (N, C, L)"),
    (lambda: nn.Conv2d(3, 4, 3), (3, 8, 8),
     "the model (Conv2d) gets one unbatched image (C, H, W) of shape (3, 8, 8) from it; expected "
     "a batch (N, C, H, W)"),
    (OneChannel, (1, 6, 6), "layer 'conv' (Conv2d) gets one unbatched image (C, H, W) of shape "
                            "(1, 6, 6) from it; expected a batch (N, C, H, W)"),
]


@pytest.mark.parametrize("make, shape, layer", UNBATCHED_EXAMPLES)
def test_an_unbatched_example_is_refused_and_a_batch_exports(tmp_path, make, shape, layer):
    """The layers take one unbatched example as PyTorch's do, but exported from one, the first
    axis "N" would be its channels; the error says to pass a batch, and that exports."""
    model, rng = make().eval(), np.random.default_rng(17)
    example = rng.standard_normal(shape).astype(np.float32)
    path = tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=re.escape(
            f"onnx.export: example_input has shape {shape}, and {layer}, as the exported "
            f"model's first axis is the batch \"N\" (from an unbatched example it would be the "
            f"channels, and a real batch would fail in ONNX Runtime); pass a batch: x[None] for "
            f"one example x, or e.g. images[:2]") + "$"):
        tc.onnx.export(model, example, path)
    assert not path.exists()
    for batch in (example[None], np.stack([example, 2 * example])):
        tc.onnx.export(model, batch, path)
        for n in (1, 3):
            x = rng.standard_normal((n, *shape)).astype(np.float32)
            assert max_difference(model, path, x) < TOLERANCE


class ConvolvesItself(nn.Module):
    """ops.conv2d and ops.max_pool2d called on the input directly, not through their layers."""

    def __init__(self):
        self.weight = tc.Value(np.random.default_rng(19).standard_normal((4, 3, 3, 3)),
                               dtype=np.float32)

    def forward(self, x):
        return ops.max_pool2d(ops.conv2d(x, self.weight), 2)


def test_an_unbatched_example_through_the_ops_themselves_is_refused(tmp_path):
    model, rng = ConvolvesItself().eval(), np.random.default_rng(20)
    example, path = rng.standard_normal((3, 8, 8)).astype(np.float32), tmp_path / "m.onnx"
    with pytest.raises(ValueError, match=re.escape(
            "onnx.export: reshape (module '') turns the batched tensor of shape (3, 8, 8) into "
            "(1, 3, 8, 8), so the model's batch axis N would become axis 1, whose size the file "
            "fixes: the example looks like one unbatched input (such as one (C, H, W) image "
            "given to ops.conv2d); expected example_input with a batch axis first; pass "
            "example_input[None], a batch of one") + "$"):
        tc.onnx.export(model, example, path)
    assert not path.exists()
    tc.onnx.export(model, example[None], path)                     # the fix named
    x = rng.standard_normal((5, 3, 8, 8)).astype(np.float32)
    assert max_difference(model, path, x) < TOLERANCE


def test_a_model_that_adds_the_channel_axis_itself_exports_a_3d_batch(tmp_path):
    model, rng = AddsTheChannelAxis().eval(), np.random.default_rng(18)
    tc.onnx.export(model, rng.standard_normal((2, 6, 6)).astype(np.float32), tmp_path / "m.onnx")
    for n in (1, 4):
        x = rng.standard_normal((n, 6, 6)).astype(np.float32)
        assert max_difference(model, tmp_path / "m.onnx", x) < TOLERANCE


def test_export_inside_no_grad_records_the_graph_and_keeps_no_grad(seed_cnn, tmp_path):
    with tc.no_grad():
        tc.onnx.export(seed_cnn, mnist_batch(1), tmp_path / "m.onnx")
        assert not is_grad_enabled()
        assert not (seed_cnn(tc.Value(mnist_batch(1)))).requires_grad
    assert is_grad_enabled()
    assert max_difference(seed_cnn, tmp_path / "m.onnx", mnist_batch(2)) < TOLERANCE


def test_missing_folder(seed_cnn, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"onnx\.export: the folder '.*missing' does not "
                                                r"exist"):
        tc.onnx.export(seed_cnn, mnist_batch(1), tmp_path / "missing" / "m.onnx")


def test_output_that_ignores_the_input_is_refused(tmp_path):
    class Constant(nn.Module):
        def __init__(self):
            self.b = tc.Value(np.ones(3, np.float32))

        def forward(self, x):
            return self.b * 2 + tc.Value(x.data.sum(), requires_grad=False)   # x's data only

    with pytest.raises(ValueError, match=r"onnx\.export: the output of Constant does not depend "
                                         r"on example_input through recorded ops"):
        tc.onnx.export(Constant().eval(), np.ones((2, 3), np.float32), tmp_path / "c.onnx")


def test_a_constant_with_the_batch_size_gets_a_warning(tmp_path):
    class MaskFromData(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(x) * (x.data[:, :3] > 0)          # a mask made outside the graph

    with pytest.warns(UserWarning, match=r"a constant of shape \(5, 3\) enters Mul .* computed "
                                         r"from the example input outside the recorded ops"):
        tc.onnx.export(MaskFromData().eval(), np.ones((5, 4), np.float32), tmp_path / "m.onnx")


def test_forward_returning_an_array_is_refused(tmp_path):
    class ReturnsArray(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(x).data

    with pytest.raises(TypeError, match=r"ReturnsArray\.forward returned ndarray \(output 0\); "
                                        r"expected a Value"):
        tc.onnx.export(ReturnsArray().eval(), np.ones((2, 4), np.float32), tmp_path / "a.onnx")


def test_missing_onnx_package_says_how_to_install_it(seed_cnn, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)            # import onnx fails
    with pytest.raises(ImportError, match=r"onnx\.export: exporting needs the 'onnx' package, "
                                          r"which is not installed .* pip install "
                                          r"'tinygrad_cnn\[onnx\]'"):
        tc.onnx.export(seed_cnn, mnist_batch(1), tmp_path / "m.onnx")


def test_supported_ops_lists_the_seed_and_zoo_ops():
    names = tc.onnx.supported_ops()
    assert names == sorted(names)
    for op in ("Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "Tanh", "AvgPool2d",
               "BatchNorm", "LogSoftmax", "Pad", "Cat", "Add", "Mul", "Sub", "Div", "Sigmoid",
               "Softmax", "Reshape", "MatMul", "Embedding", "AdaptiveAvgPool2d"):
        assert op in names, op


class Activations(nn.Module):
    """GELU in both forms, SiLU and an erf node, on values out into their tails."""

    def __init__(self):
        self.fc = nn.Linear(4, 6)
        self.gelu, self.gelu_tanh, self.silu = nn.GELU(), nn.GELU("tanh"), nn.SiLU()

    def forward(self, x):
        h = self.fc(x) * 4.0
        return ops.cat([self.gelu(h), self.gelu_tanh(h), self.silu(h), ops.erf(h)], axis=1)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset, gelu_nodes", [(17, {"Erf", "Tanh"}), (20, {"Gelu"})])
def test_gelu_silu_and_erf_match_onnx_runtime(tmp_path, opset, gelu_nodes):
    tc.manual_seed(0)
    model, rng, path = Activations().eval(), np.random.default_rng(3), tmp_path / "act.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 4)).astype(np.float32), path,
                           opset=opset)
    # GELU: from opset 20 on ONNX's Gelu op, before it its erf or tanh formula; SiLU: x sigmoid(x)
    op_types = {node.op_type for node in proto.graph.node}
    assert gelu_nodes | {"Sigmoid", "Erf", "Mul"} <= op_types
    assert ("Gelu" in op_types) == (opset >= 20)
    for batch in (2, 5):
        x = (rng.standard_normal((batch, 4)) * 3).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE
    assert {"Erf", "GELU", "SiLU"} <= set(tc.onnx.supported_ops())




class NewLayers(nn.Module):
    """GroupNorm (with and without its parameters), PReLU (a slope per channel, and one shared),
    ELU, Hardtanh, ReLU6, Softplus (PyTorch's threshold 20; a beta with a threshold; ours
    without) on values spread past every kink and threshold."""

    def __init__(self):
        rng = np.random.default_rng(12)
        self.conv = nn.Conv2d(2, 4, 3, padding=1, rng=rng)
        self.norm, self.plain_norm = nn.GroupNorm(2, 4), nn.GroupNorm(4, 4, affine=False)
        self.prelu, self.prelu_shared = nn.PReLU(4), nn.PReLU(init=0.3)
        self.elu, self.hardtanh, self.relu6 = nn.ELU(0.5), nn.Hardtanh(-2.0, 3.0), nn.ReLU6()
        self.softplus, self.softplus_beta = nn.Softplus(), nn.Softplus(beta=0.5, threshold=4.0)
        self.norm.weight.data[...] = rng.uniform(0.5, 2, 4)
        self.norm.bias.data[...] = rng.standard_normal(4)
        self.prelu.weight.data[...] = rng.uniform(-0.5, 0.5, 4)

    def forward(self, x):                                          # x (N, 2, 5, 5)
        h = self.norm(self.conv(x)) * 3                             # (N, 4, 5, 5), in [-12, 12]
        h = self.prelu(h) + self.prelu_shared(h)
        return ops.cat([self.elu(h), self.hardtanh(h), self.relu6(h), self.softplus(h * 2),
                        self.softplus_beta(h), ops.softplus(h), self.plain_norm(h)],
                       axis=1)                                      # (N, 28, 5, 5)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])          # ReduceMean's axes: attribute, input
def test_prelu_elu_hardtanh_softplus_and_group_norm_match_onnx_runtime(tmp_path, opset):
    """PReLU as PRelu (its weight reshaped to (C, 1, 1) or to a scalar), ELU as Elu, Hardtanh
    and ReLU6 as Clip, Softplus with a threshold as a Where of x and Softplus(beta x) / beta,
    GroupNorm through the ops it is made of (Reshape, ReduceMean, ...)."""
    model, rng, path = NewLayers().eval(), np.random.default_rng(13), tmp_path / "new.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 5, 5)).astype(np.float32), path,
                           opset=opset)
    op_types = [node.op_type for node in proto.graph.node]
    assert {"PRelu", "Elu", "Clip", "Greater", "Where", "Softplus", "Div", "Reshape",
            "ReduceMean"} <= set(op_types)
    assert op_types.count("PRelu") == 2 and op_types.count("Clip") == 2
    assert op_types.count("Softplus") == 3 and op_types.count("Where") == 2   # ours: no Where
    assert set(model.state_dict()) <= {tensor.name for tensor in proto.graph.initializer}
    for batch in (2, 1, 5):
        x = rng.standard_normal((batch, 2, 5, 5)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE
    assert {"PReLU", "ELU", "Hardtanh", "Softplus"} <= set(tc.onnx.supported_ops())


# ---------------------------------------------------------------- examples/mnist/export.py


def test_export_script_writes_onnx_and_safetensors_from_a_checkpoint(tmp_path):
    require("safetensors", "safetensors")
    from tinygrad_cnn.data import write_idx
    tc.manual_seed(0)
    model = SeedCNN(channels=(2, 4))
    tc.save({"model": model.state_dict(), "epoch": 1}, tmp_path / "checkpoint.npz")
    data = tmp_path / "data"                      # 6 test images in MNIST's IDX layout
    data.mkdir()
    pixels = np.random.default_rng(0).integers(0, 256, (6, 28, 28)).astype(np.uint8)
    write_idx(data / "t10k-images-idx3-ubyte", pixels)
    write_idx(data / "t10k-labels-idx1-ubyte", np.arange(6, dtype=np.uint8))
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mnist" / "export.py"),
         "--checkpoint", str(tmp_path / "checkpoint.npz"), "--check-images", "5",
         "--data-dir", str(data), "--out", str(tmp_path / "exported")],    # a new folder
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr
    tmp_path = tmp_path / "exported"
    assert f"wrote {tmp_path / 'seed_cnn.safetensors'} (PyTorch" in result.stdout
    assert f"wrote {tmp_path / 'seed_cnn.onnx'} (opset 17" in result.stdout
    largest = float(re.search(r"ONNX Runtime on 5 test images: largest \|difference\| from "
                              r"tinygrad_cnn's logits (\S+), same predicted class for 100\.00%",
                              result.stdout)[1])
    assert largest < TOLERANCE
    weights = tc.load(tmp_path / "seed_cnn.safetensors")
    assert list(weights) == sorted(model.state_dict())
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(weights[name], array)
    assert max_difference(model.eval(), tmp_path / "seed_cnn.onnx", mnist_batch(5)) < TOLERANCE


def test_export_script_fails_when_onnx_runtime_disagrees(tmp_path, monkeypatch, capsys):
    """A difference beyond 1e-4 of the largest logit stops the script (make demo with it)."""
    from tinygrad_cnn.data import write_idx
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "mnist"))
    import export as export_script

    model = SeedCNN(channels=(2, 4))
    tc.save({"model": model.state_dict(), "epoch": 1}, tmp_path / "checkpoint.npz")
    pixels = np.random.default_rng(1).integers(0, 256, (3, 28, 28)).astype(np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", pixels)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.arange(3, dtype=np.uint8))
    argv = ["--checkpoint", str(tmp_path / "checkpoint.npz"), "--check-images", "3",
            "--data-dir", str(tmp_path)]
    export_script.main(argv)                                       # agrees: no exit
    real = export_script.compare_with_onnx_runtime

    def off_by(amount):
        def compare(*args, **kwargs):
            largest, same, scale = real(*args, **kwargs)
            return largest + amount * scale, same, scale
        return compare

    monkeypatch.setattr(export_script, "compare_with_onnx_runtime", off_by(0.5e-4))
    export_script.main(argv)                                       # within 1e-4: no exit
    monkeypatch.setattr(export_script, "compare_with_onnx_runtime", off_by(2e-4))
    with pytest.raises(SystemExit, match=r"export.py: ONNX Runtime's logits differ from "
                                         r"tinygrad_cnn's by up to .*, over 0.0001 of the "
                                         r"largest logit .*; expected the same model in both: "
                                         r".*seed_cnn.onnx does not compute what the checkpoint "
                                         r"does, so do not use it"):
        export_script.main(argv)


def test_export_script_refuses_an_old_opset_before_writing(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(ROOT / "examples" / "mnist"))
    import export as export_script

    with pytest.raises(SystemExit) as exit_info:
        export_script.parse_args(["--opset", "5"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith("error: --opset 5: expected 13 or later, as "
                                            "tc.onnx.export writes\n")


def test_make_demo_exports_after_training():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^demo:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)[1].splitlines()
    train = recipe.index("\t$(PY) examples/mnist/train.py --out $(RUN)")
    assert recipe[train + 1] == ("\t$(PY) examples/mnist/export.py --checkpoint "
                                 "$(RUN)/checkpoint.npz --out $(RUN)")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])          # ReduceMean's axes: attribute, input
def test_layer_norm_exports_and_matches_onnx_runtime(tmp_path, opset):
    """nn.LayerNorm is mean, var, +, -, * and **: it exports as those ops, over one and over
    two trailing axes, with and without its parameters, which keep their names."""
    class Normed(nn.Module):
        def __init__(self):
            rng = np.random.default_rng(9)
            self.norm_rows = nn.LayerNorm((4, 5))
            self.fc = nn.Linear(5, 6, rng=rng)
            self.norm = nn.LayerNorm(6, eps=1e-3)
            self.plain = nn.LayerNorm(6, elementwise_affine=False)
            for layer in (self.norm_rows, self.norm):
                layer.weight.data[...] = rng.uniform(0.5, 2, layer.weight.shape)
                layer.bias.data[...] = rng.standard_normal(layer.bias.shape)

        def forward(self, x):                                # x (N, 3, 4, 5)
            h = self.fc(self.norm_rows(x))                   # (N, 3, 4, 6)
            return self.plain(ops.relu(self.norm(h)) + h)

    model, rng = Normed().eval(), np.random.default_rng(10)
    path = tmp_path / "layer_norm.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 3, 4, 5)).astype(np.float32), path,
                           opset=opset)
    assert set(model.state_dict()) <= {tensor.name for tensor in proto.graph.initializer}
    assert {node.op_type for node in proto.graph.node} >= {"ReduceMean", "Pow", "Sub", "Mul"}
    for batch in (2, 1, 5):
        x = rng.standard_normal((batch, 3, 4, 5)).astype(np.float32) * 3 + 1
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])          # ReduceMean's axes: attribute, input
def test_rms_norm_and_local_response_norm_export_and_match_onnx_runtime(tmp_path, opset):
    """nn.RMSNorm is square, mean, +, ** and *; nn.LocalResponseNorm squares, reshapes to
    (N, 1, C, L), pads and averages over size x 1 windows: they export as those ops (Pad and
    AveragePool for the channel window), RMSNorm's weight keeping its name, and the reshapes
    follow the batch size."""
    class Normed(nn.Module):
        def __init__(self):
            rng = np.random.default_rng(14)
            self.conv = nn.Conv2d(2, 4, 3, padding=1, rng=rng)
            self.lrn = nn.LocalResponseNorm(3, alpha=0.5, beta=0.75, k=1.0)
            self.rms = nn.RMSNorm((4, 5, 5))
            self.rms_rows = nn.RMSNorm(5, eps=1e-3, elementwise_affine=False)
            self.rms.weight.data[...] = rng.uniform(0.5, 2, self.rms.weight.shape)

        def forward(self, x):                                # x (N, 2, 5, 5)
            return self.rms_rows(self.rms(self.lrn(self.conv(x))))

    model, rng = Normed().eval(), np.random.default_rng(15)
    path = tmp_path / "norms.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 5, 5)).astype(np.float32), path,
                           opset=opset)
    assert set(model.state_dict()) <= {tensor.name for tensor in proto.graph.initializer}
    assert {node.op_type for node in proto.graph.node} >= {"Pad", "AveragePool", "ReduceMean",
                                                           "Pow", "Div", "Mul"}
    for batch in (2, 1, 5):
        x = rng.standard_normal((batch, 2, 5, 5)).astype(np.float32) * 3
        assert max_difference(model, path, x) < TOLERANCE


# ---------------------------------------------------------------- integer ids: embeddings


class Bag(nn.Module):
    """A bag of words: Embedding -> mean over the sequence -> Linear; ids (N, T) -> (N, 3)."""

    def __init__(self, padding_idx=None):
        rng = np.random.default_rng(11)
        self.emb = nn.Embedding(10, 4, padding_idx=padding_idx, rng=rng)
        self.fc = nn.Linear(4, 3, rng=rng)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(axis=1))


def dims(info):
    return [d.dim_param or d.dim_value for d in info.type.tensor_type.shape.dim]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("dtype, nodes", [
    (np.int64, ["Gather", "ReduceMean", "Gemm"]), (np.int32, ["Gather", "ReduceMean", "Gemm"]),
    (np.uint8, ["Cast", "Gather", "ReduceMean", "Gemm"])])     # Gather takes int32 or int64
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_an_embedding_model_on_integer_ids_runs_in_onnx_runtime_like_ours(tmp_path, dtype, nodes,
                                                                          padding_idx):
    """The graph input has the ids' dtype and shape (N, T): the batch axis is symbolic, the
    sequence length fixed. With a padding_idx the padding row (here not zero) is looked up
    like any other: padding changes only the gradient."""
    model, rng, path = Bag(padding_idx).eval(), np.random.default_rng(12), tmp_path / "bag.onnx"
    model.emb.weight.data[0] = 5.0
    ids = rng.integers(0, 10, (3, 5)).astype(dtype)
    ids[:, -2:] = 0                                              # padding at the end
    proto = tc.onnx.export(model, ids, path)
    assert [n.op_type for n in proto.graph.node] == nodes
    (graph_input,) = proto.graph.input
    assert dims(graph_input) == ["N", 5]
    assert graph_input.type.tensor_type.elem_type == onnx.helper.np_dtype_to_tensor_dtype(
        np.dtype(dtype))
    assert {t.name for t in proto.graph.initializer} == {"emb.weight", "fc.weight", "fc.bias"}
    for batch in (3, 1, 6):
        x = rng.integers(0, 10, (batch, 5)).astype(dtype)
        x[0, :3] = 0
        assert max_difference(model, path, x) < 1e-6
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match=r"invalid dimensions for input"):  # T is not symbolic
        session.run(None, {"input": ids[:, :4]})


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("norm_type, reduce", [(2.0, "ReduceSum"), (1.0, "ReduceSum"),
                                               (3.0, "ReduceSum"), (np.inf, "ReduceMax")])
def test_an_embedding_with_max_norm_rescales_the_rows_it_picks_in_onnx_runtime(
        tmp_path, norm_type, reduce):
    """Ours shortens the picked rows in the table; the file shortens the rows it picks, the same
    numbers: compared on ids whose rows neither the export's traces nor an earlier call
    shortened, and on ids whose rows they did."""
    model, rng, path = Bag(None).eval(), np.random.default_rng(14), tmp_path / "renorm.onnx"
    model.emb = nn.Embedding(10, 4, max_norm=1.0, norm_type=norm_type, rng=rng)
    model.emb.weight.data *= 3                                 # most rows too long
    model.eval()
    proto = tc.onnx.export(model, np.array([[0, 1, 2]]), path)
    assert reduce in [n.op_type for n in proto.graph.node]
    for ids in (np.array([[7, 8, 9], [9, 3, 4]]), np.array([[0, 1, 7], [2, 2, 8]])):
        assert max_difference(model, path, ids) < 1e-6


def test_an_embedding_with_frozen_parameters_exports_and_stays_frozen(tmp_path):
    """The lookup is recorded only because its weight requires grad (integer ids cannot):
    frozen parameters are made to require grad while the export records, as for floats."""
    model = Bag(padding_idx=-1).eval()
    for param in model.parameters():
        param.requires_grad = False
    ids = np.array([[1, 9, 9], [4, 2, 9]])
    proto = tc.onnx.export(model, ids, tmp_path / "frozen.onnx")
    assert [n.op_type for n in proto.graph.node] == ["Gather", "ReduceMean", "Gemm"]
    assert not any(param.requires_grad for param in model.parameters())
    assert max_difference(model, tmp_path / "frozen.onnx", ids[::-1].copy()) < 1e-6


class ConvOnIds(nn.Module):
    def __init__(self):
        self.conv = nn.Conv2d(1, 2, 3, rng=np.random.default_rng(13))

    def forward(self, x):                      # x (N, 1, 5, 5): a float image, or converted ids
        return ops.flatten(self.conv(x), 1)


def test_an_integer_input_that_no_embedding_looks_up_is_refused_with_a_fix_that_works(tmp_path):
    images = np.random.default_rng(14).integers(0, 255, (2, 1, 5, 5))
    fix = (r"pass example_input\.astype\(np\.float32\) \(or the parameters' dtype\) to a model "
           r"that computes on numbers")
    # the conv converts the integers to floats first, a step that is not recorded
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # the error comes before any warning
        with pytest.raises(ValueError, match=r"onnx\.export: example_input has the integer dtype "
                                             r"int64, but no recorded op of ConvOnIds takes it; "
                                             r"expected integer ids that go straight into an "
                                             r"embedding \(nn\.Embedding, ops\.embedding\).*; "
                                             + fix):
            tc.onnx.export(ConvOnIds().eval(), images, tmp_path / "conv.onnx")
    model = ConvOnIds().eval()                         # the fix
    tc.onnx.export(model, images.astype(np.float32), tmp_path / "conv.onnx")
    assert max_difference(model, tmp_path / "conv.onnx", images[:1].astype(np.float32)) < 1e-4
    # an op that takes the integers themselves as numbers
    with pytest.raises(ValueError, match=r"onnx\.export: example_input has the integer dtype "
                                         r"int32 and enters op BatchNorm \(in module '0'\) as "
                                         r"its input 0; expected integer ids that only an "
                                         r"embedding looks up .*; " + fix):
        tc.onnx.export(nn.Sequential(nn.BatchNorm2d(1)).eval(), images.astype(np.int32),
                       tmp_path / "bn.onnx")
    assert not (tmp_path / "bn.onnx").exists()


def test_ids_changed_before_the_lookup_are_refused(tmp_path):
    """ids + 1 on an integer Value records nothing (ids have no gradient): the lookup would see a
    constant, so the export is refused; looking the ids up unchanged exports."""
    class Shifted(Bag):
        def forward(self, ids):
            return self.fc(self.emb(ids + 1).mean(axis=1))

    with pytest.raises(ValueError, match=r"no recorded op of Shifted takes it; .*such as ids \+ 1"
                                         r".*or look the ids up first"):
        tc.onnx.export(Shifted().eval(), np.array([[1, 2], [3, 4]]), tmp_path / "s.onnx")



class IdsAsNumbers(Bag):
    """Uses the ids in a lookup and, through ops that record nothing, as numbers too."""

    def __init__(self, use):
        super().__init__(padding_idx=0)
        self.use = use

    def forward(self, ids):
        looked_up = self.emb(ids)
        if self.use == "astype":
            return self.fc(looked_up.mean(axis=1)) + ids.astype(np.float32).sum(axis=1,
                                                                              keepdims=True)
        if self.use == "mask":
            return self.fc(ops.where((ids > 0)[..., None], looked_up, 0).mean(axis=1))
        if self.use == "transposed-mask":          # (T, N, 1): the batch axis second
            mask = (ids > 0).T[..., None].astype(np.float32)
            return self.fc((looked_up.transpose(1, 0, 2) * mask).mean(axis=0))
        return self.fc(looked_up.mean(axis=1)) * float((ids > 0).sum())    # a scalar


@pytest.mark.parametrize("use, what", [("astype", r"input 1 of op Add \(in module ''\)"),
                                       ("mask", r"input 0 of op Where \(in module ''\)"),
                                       ("transposed-mask", r"input 1 of op Mul \(in module ''\)"),
                                       ("count", r"input 1 of op Mul \(in module ''\)")])
def test_a_constant_made_from_the_ids_is_refused_not_frozen_into_the_file(tmp_path, use, what):
    """ids.astype, ids > 0 and numpy on the ids record nothing: the file would replay the
    example's values for every input (it did: ONNX Runtime gave other logits than ours). The
    export traces the model again on other ids and refuses what changed, whatever its shape,
    a scalar included; the fix in the message, a mask from a frozen lookup, exports and
    matches."""
    ids = np.array([[1, 2, 0], [3, 0, 0]])
    with pytest.raises(ValueError, match=what + r" changes with the ids: traced again on other "
                                         r"ids it was different, so it was computed from the "
                                         r"ids by ops that record nothing.*a mask of the "
                                         r"non-padding positions is a frozen "
                                         r"nn\.Embedding\(num_embeddings, 1\) whose table is 1 "
                                         r"except 0 at padding_idx"):
        tc.onnx.export(IdsAsNumbers(use).eval(), ids, tmp_path / "mixed.onnx")
    assert not (tmp_path / "mixed.onnx").exists()

    class MaskedByALookup(Bag):
        def __init__(self):
            super().__init__(padding_idx=0)
            self.keep = nn.Embedding(10, 1)
            self.keep.weight = tc.Value((np.arange(10) != 0).astype(np.float32)[:, None],
                                        requires_grad=False)

        def forward(self, ids):
            mask = self.keep(ids)                                 # (N, T, 1): 0 at padding
            return self.fc((self.emb(ids) * mask).sum(axis=1) / mask.sum(axis=1))

    model = MaskedByALookup().eval()
    tc.onnx.export(model, ids, tmp_path / "masked.onnx")
    assert max_difference(model, tmp_path / "masked.onnx", np.array([[5, 0, 0], [1, 2, 3],
                                                                     [7, 7, 0]])) < 1e-6


def test_one_row_of_ids_exports_and_bool_ids_are_refused_with_both_fixes(tmp_path):
    model = Bag().eval()
    tc.onnx.export(model, np.array([[1, 2, 3]]), tmp_path / "one.onnx")
    assert max_difference(model, tmp_path / "one.onnx", np.array([[4, 0, 9], [1, 1, 2]])) < 1e-6
    with pytest.raises(TypeError, match=r"example_input has dtype bool; .*or "
                                        r"example_input\.astype\(np\.int64\) to one that looks "
                                        r"up ids"):
        tc.onnx.export(Bag().eval(), np.array([[True, False], [False, True]]),
                       tmp_path / "bool.onnx")
    tc.onnx.export(Bag().eval(), np.array([[True, False], [False, True]]).astype(np.int64),
                   tmp_path / "bool.onnx")                                  # the fix works


def test_float_ids_and_numpy_tables_get_a_message_that_says_what_to_pass(tmp_path):
    with pytest.raises(TypeError, match=r"Embedding: ids is a Value of dtype float32 that "
                                        r"requires grad; .*tc\.onnx\.export makes its "
                                        r"example_input such a Value when it is a float array: "
                                        r"pass it integer ids"):
        tc.onnx.export(Bag().eval(), np.array([[1.0, 2.0], [3.0, 4.0]], np.float32),
                       tmp_path / "float.onnx")

    class NumpyTable(nn.Module):
        def forward(self, ids):
            return ops.embedding(ids, np.eye(4, dtype=np.float32))

    with pytest.raises(ValueError, match=r"whose table is a parameter \(a Value attribute of "
                                         r"the model; a numpy table is a constant, and its "
                                         r"lookups record nothing\)"):
        tc.onnx.export(NumpyTable().eval(), np.array([[1, 2], [3, 0]]), tmp_path / "np.onnx")


@pytest.mark.filterwarnings("error")
def test_a_constant_that_does_not_follow_the_ids_exports_without_a_warning(tmp_path):
    """Positions 0..T-1 with T = N: the shape alone would suggest the batch, but the second
    trace shows they do not change with the ids, so no warning and no refusal."""
    class Positions(Bag):
        def __init__(self):
            super().__init__()
            self.pos = nn.Embedding(3, 4, rng=np.random.default_rng(15))

        def forward(self, ids):
            return self.fc((self.emb(ids) + self.pos(np.arange(ids.shape[1]))).mean(axis=1))

    model = Positions().eval()
    tc.onnx.export(model, np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), tmp_path / "pos.onnx")
    assert max_difference(model, tmp_path / "pos.onnx", np.array([[0, 9, 2], [3, 3, 3]])) < 1e-6


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("fn, nodes", [
    (lambda x: ops.arcsin(x / 3) + ops.arccos(x / 4) * x.arctan(), {"Asin", "Acos", "Atan"}),
    (lambda x: ops.arctan2(x[:, :2], x[:, 1:]), {"Atan", "Where"}),
    (lambda x: x.prod(axis=-1), {"Mul"}),
    (lambda x: ops.prod(x, axis=(1, 2), keepdims=True), {"Mul", "Pad"}),   # 12: odd lengths
    (lambda x: ops.tan(x / 2) + x.sinh() * ops.cosh(x), {"Tan", "Sinh", "Cosh"}),
    (lambda x: ops.arcsinh(x) + ops.arccosh(x * x + 1.5) * ops.arctanh(x / 2),
     {"Asinh", "Acosh", "Atanh"}),
    (lambda x: ops.logaddexp(x[:, :2] * 30, x[:, 1:]), {"Softplus", "Max"}),
    (lambda x: ops.logaddexp(x, np.float32(-2.0)) - ops.logaddexp(-x, x[:1]), {"Softplus"}),
], ids=["arcsin-arccos-arctan", "arctan2", "prod", "prod-keepdims", "tan-sinh-cosh",
        "arcsinh-arccosh-arctanh", "logaddexp", "logaddexp-broadcast"])
def test_trig_hyperbolic_logaddexp_and_prod_match_onnx_runtime(tmp_path, fn, nodes):
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(11), tmp_path / "t.onnx"
    x = rng.uniform(-1.9, 1.9, (2, 3, 4)).astype(np.float32)
    proto = tc.onnx.export(model, x, path)
    assert nodes <= {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.uniform(-1.9, 1.9, (batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("fn, nodes", [
    (lambda x: ops.floor(x * 3) + ops.ceil(x * 3) * ops.trunc(x * 3), {"Floor", "Ceil", "Where"}),
    (lambda x: ops.rint(x * 2) + ops.sign(x) * x.round(), {"Round", "Sign"}),
    (lambda x: ops.round(x * 10, 2) + ops.round(x * 1000, -2), {"Round", "Mul", "Div"}),
    (lambda x: ops.log2(x * x + 0.5) + ops.log10(x + 2) * ops.exp2(x), {"Log", "Div", "Pow"}),
    (lambda x: ops.reciprocal(x + 3) + ops.cbrt(x * 4), {"Reciprocal", "Sign", "Pow"}),
    (lambda x: ops.hypot(x, x[:, :1]) + ops.hypot(ops.relu(x), ops.relu(x * 2)),   # 0 at 0
     {"Sqrt", "Max", "Min"}),
    (lambda x: ops.hypot(x * 1e30, (x + 0.5) * 1e30) * 1e-30, {"Sqrt"}),    # no overflow
    (lambda x: ops.sinc(x * 2) + ops.sinc(ops.relu(x)), {"Sin", "Div"}),     # sinc(0) = 1
    (lambda x: ops.fmod(x * 5, x[:, :1] + 2.5) + ops.fmod(x * 5, -1.5), {"Mod"}),
    (lambda x: ops.remainder(x * 5, x[:, :1] - 2.5) + x * 7 % 1.5, {"Mod", "Where"}),
    (lambda x: x * 5 // (x[:, :1] + 2.5) + ops.floor_divide(x * 7, -1.5), {"Mod", "Floor"}),
    (lambda x: ops.xlogy(ops.relu(x), x * x + 0.1) + ops.xlogy(ops.relu(x), ops.relu(x)),
     {"Log", "Where"}),
    (lambda x: ops.logit(ops.sigmoid(x)) + ops.logit(x * 0.6 + 0.5, eps=0.2), {"Log", "Clip"}),
    (lambda x: (x * x + 0.5) ** x + 2 ** x + ops.relu(x) ** (x[:, :1] * x[:, :1]), {"Pow"}),
], ids=["floor-ceil-trunc", "rint-sign", "round-decimals", "log2-log10-exp2", "reciprocal-cbrt",
        "hypot", "hypot-large", "sinc", "fmod", "remainder", "floor_divide", "xlogy", "logit",
        "power"])
def test_rounding_and_more_elementwise_ops_match_onnx_runtime(tmp_path, fn, nodes):
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(13), tmp_path / "r.onnx"
    x = rng.uniform(-1.9, 1.9, (2, 3, 4)).astype(np.float32)
    proto = tc.onnx.export(model, x, path)
    assert nodes <= {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.uniform(-1.9, 1.9, (batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


def test_exported_rounding_and_division_match_numpy_at_halves_zeros_and_jumps(tmp_path):
    """The compositions where numpy's rules are subtle: a half rounds to even, 1 // 0.1 is 9,
    the remainder takes b's sign, hypot at the origin and at infinity, 0 ln 0, sinc(0)."""
    x = np.array([[-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.0, -0.0],
                  [1.0, -1.0, 7.0, -7.0, 5.5, -5.5, 4.0, 0.3]], dtype=np.float32)
    divisors = np.array([0.1, 0.1, 2.0, 2.0, -2.0, 1.5, 2.0, 0.1], dtype=np.float32)
    cases = [(lambda v: ops.rint(v), lambda a: np.rint(a)),
             (lambda v: ops.trunc(v * 1.5), lambda a: np.trunc(a * np.float32(1.5))),
             (lambda v: ops.round(v * 0.25, 1), lambda a: np.round(a * np.float32(0.25), 1)),
             (lambda v: v // divisors, lambda a: a // divisors),
             (lambda v: v % divisors, lambda a: a % divisors),
             (lambda v: ops.hypot(v, v * 0), lambda a: np.hypot(a, a * 0)),
             (lambda v: ops.xlogy(v * v, v * v), lambda a: a * a * np.log(a * a + (a == 0))),
             (lambda v: ops.sinc(v), lambda a: np.sinc(a))]
    for i, (fn, expected) in enumerate(cases):
        model = Lambda(fn).eval()
        tc.onnx.export(model, x, tmp_path / f"{i}.onnx")
        (got,) = run_ort(tmp_path / f"{i}.onnx", x)
        with np.errstate(divide="ignore"):
            np.testing.assert_allclose(got, expected(x), rtol=1e-6, atol=1e-7, err_msg=str(i))
    infinite = np.array([[np.inf, 3.0], [-np.inf, 0.0]], dtype=np.float32)
    model = Lambda(lambda v: ops.hypot(v, 4.0)).eval()
    tc.onnx.export(model, infinite, tmp_path / "inf.onnx")
    (got,) = run_ort(tmp_path / "inf.onnx", infinite)
    np.testing.assert_array_equal(got, [[np.inf, 5.0], [np.inf, 4.0]])


def test_det_exports_as_onnx_det_and_the_other_matrix_functions_are_refused(tmp_path):
    rng = np.random.default_rng(12)
    model = Lambda(lambda x: ops.det(x[:, :, :3] + 2 * np.eye(3, dtype=np.float32))).eval()
    proto = tc.onnx.export(model, rng.normal(size=(2, 3, 4)).astype(np.float32),
                           tmp_path / "det.onnx")
    assert "Det" in {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.normal(size=(batch, 3, 4)).astype(np.float32)
        assert max_difference(model, tmp_path / "det.onnx", x) < TOLERANCE
    inverse = Lambda(lambda x: ops.inv(x[:, :, :3] + 2 * np.eye(3, dtype=np.float32))).eval()
    with pytest.raises(ValueError, match=r"onnx.export: op Inv \(tinygrad_cnn.ops.matrices.Inv"):
        tc.onnx.export(inverse, rng.normal(size=(2, 3, 4)).astype(np.float32),
                       tmp_path / "inv.onnx")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("fn", [
    lambda x: ops.sort(x, 1) * 2,
    lambda x: ops.sort(x, 0),                               # along the batch: k at run time
    lambda x: ops.topk(x, 2)[0] + ops.topk(x, 3, axis=1, largest=False)[0][:, :, :2],
    lambda x: ops.sort(x, None),
], ids=["sort", "sort-batch-axis", "topk-largest-and-smallest", "sort-flat"])
def test_sort_and_topk_export_as_onnx_topk(tmp_path, fn):
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(13), tmp_path / "s.onnx"
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    proto = tc.onnx.export(model, x, path)
    assert "TopK" in {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.normal(size=(batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) == 0.0


def test_unsorted_topk_is_refused_with_the_setting_that_exports(tmp_path):
    model = Lambda(lambda x: ops.topk(x, 2, sorted=False)[0]).eval()
    with pytest.raises(ValueError, match=r"topk with sorted=False .*expected sorted=True"):
        tc.onnx.export(model, np.ones((2, 5), dtype=np.float32), tmp_path / "t.onnx")


def _gathered_by_topk(x):
    """Another tensor taken at topk's indices, times topk's values."""
    values, indices = ops.topk(x, 3, axis=1)
    return ops.take_along_axis(x * 2 + 1, indices, 1) * values


def _gathered_by_a_view_of_topk(x):
    """(N, C, L): the 2 channels of largest maximum, each with its L values: indices[..., None],
    a view of topk's indices, broadcast along L."""
    values, indices = ops.topk(x.max(axis=2), 2, axis=1)
    return ops.take_along_axis(x, indices[..., None], 1) * values[..., None]


def _sorted_by_the_first_channel(x):
    """(N, C, L) reordered along L as its first channel sorts: k the axis's length, an (N, 1, L)
    view of the indices broadcast along C."""
    values, order = ops.topk(x[:, 0], x.shape[2], axis=-1, largest=False)
    return ops.take_along_axis(x, order[:, None, :], 2) + values[:, None, :]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("fn, nodes", [
    (lambda x: ops.take_along_axis(x, np.array([[[2, -1, 0, -4, 3]]]), 2),   # (1, 1, 5)
     {"Expand", "GatherElements"}),
    (lambda x: ops.take_along_axis(x, np.array([[[-3, 0, 2, -1], [1, -2, 0, 2]]], np.int32), 1),
     {"Expand", "GatherElements"}),
    (lambda x: ops.take_along_axis(x, np.array([-1, 0, 1], np.int16).reshape(3, 1, 1), 0),
     {"Expand", "GatherElements"}),                 # along the batch: -1 is the last example
    (lambda x: ops.take_along_axis(x, np.array([5, -1, 0, 17]), None), {"Gather"}),
    (_gathered_by_topk, {"TopK", "GatherElements"}),
    (_gathered_by_a_view_of_topk, {"TopK", "Reshape", "Expand", "GatherElements"}),
    (_sorted_by_the_first_channel, {"TopK", "Reshape", "Expand", "GatherElements"}),
], ids=["broadcast-batch-and-axis-1", "axis-1-int32", "batch-axis", "flattened", "topk",
        "topk-view", "sort-order"])
def test_take_along_axis_exports_as_gather_elements(tmp_path, fn, nodes):
    """Constant indices (negative ones too) broadcast against x by Expand, the batch axis's
    size read at run time; topk's indices, and reshaping views of them, from its TopK node."""
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(14), tmp_path / "g.onnx"
    proto = tc.onnx.export(model, rng.normal(size=(2, 3, 4)).astype(np.float32), path)
    assert nodes <= {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.normal(size=(batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) == 0.0


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("fn", [
    lambda x: ops.take_along_axis(x, np.array([[[2, -1, 0, -4, 3]]]), 2),
    _gathered_by_a_view_of_topk,
], ids=["constant", "topk-view"])
def test_take_along_axis_exported_from_one_example_takes_from_every_example(tmp_path, fn):
    """Indices of size 1 on the batch axis, as the example's batch, broadcast over the batch
    that the file gets, read at run time."""
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(16), tmp_path / "one.onnx"
    tc.onnx.export(model, rng.normal(size=(1, 3, 4)).astype(np.float32), path)
    x = rng.normal(size=(4, 3, 4)).astype(np.float32)
    assert max_difference(model, path, x) == 0.0


@pytest.mark.parametrize("fn", [
    lambda x: ops.take_along_axis(x, np.argsort(x.data, axis=1)[:, :3], 1),
    lambda x: ops.take_along_axis(x, ops.topk(x, 3, axis=1)[1], 1),
], ids=["argsort-of-the-data", "topk-whose-values-are-unused"])
def test_take_along_axis_of_constant_indices_of_the_batch_size_gets_a_warning(tmp_path, fn):
    """Indices computed outside the graph (numpy on x.data, or topk's of a TopK the file
    does not hold, as no output uses its values) are constants, replayed for every input."""
    with pytest.warns(UserWarning, match=r"onnx\.export: take_along_axis \(module ''\) takes "
                                         r"constant indices of shape \(5, 3\); their first axis "
                                         r"has the batch size, .* and use its values too") as got:
        tc.onnx.export(Lambda(fn).eval(), np.ones((5, 4), np.float32), tmp_path / "w.onnx")
    assert got[0].filename == __file__             # it points at the export call


def _with_zeros_and_negatives(rng, shape) -> np.ndarray:
    """Uniform in [-2, 2), about one element in six set to 0."""
    x = rng.uniform(-2, 2, shape)
    x[rng.random(shape) < 0.15] = 0
    return x.astype(np.float32)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 21])         # Scan's versions 11 and 21
@pytest.mark.parametrize("fn, node", [
    (lambda x: ops.cumprod(x, axis=1) + x.cumprod(axis=-1), "Scan"),
    (lambda x: ops.cumprod(x, axis=0), "Scan"),     # along the batch: its length at run time
    (lambda x: ops.cumprod(x), "Scan"),             # flattened, the batch too
    (lambda x: ops.cumprod(x.max(), axis=0), "Scan"),               # a 0-d x: numpy's 1-D
    (lambda x: ops.cumprod(x[:, :, :0], axis=2) + 1, "Identity"),   # nothing to multiply
], ids=["axes-1-and-last", "batch-axis", "flattened", "0d", "empty-axis"])
def test_cumprod_exports_as_a_scan_with_numpys_products(tmp_path, fn, node, opset):
    """A Scan multiplies in numpy's order, y_i = y_{i-1} x_i: the same float32 numbers, zeros
    and negatives included, along any axis, the dynamic batch axis too."""
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(15), tmp_path / "p.onnx"
    proto = tc.onnx.export(model, _with_zeros_and_negatives(rng, (2, 3, 4)), path, opset=opset)
    assert node in {n.op_type for n in proto.graph.node}
    for batch in (2, 5):
        x = _with_zeros_and_negatives(rng, (batch, 3, 4))
        (got,) = run_ort(path, x)
        np.testing.assert_array_equal(got, ours(model, x))
    assert "CumProd" in tc.onnx.supported_ops()


def test_cumprod_of_infinities_nans_and_signed_zeros_is_numpys_in_onnx_runtime(tmp_path):
    """float64, where 0 * inf is NaN, a product may overflow to inf and then meet a 0, and a
    negative times 0 is -0: as numpy.cumprod, to the sign of each zero."""
    x = np.array([[2.0, 0.0, np.inf, -1.0, 3.0], [-np.inf, -3.0, 0.0, 5.0, 2.0],
                  [np.nan, 1.0, -2.0, 0.0, -0.0], [-1e200, 1e200, 1e200, 0.0, 1.0]])
    model = Lambda(lambda v: ops.cumprod(v, axis=1)).eval()
    with np.errstate(over="ignore", invalid="ignore"):
        tc.onnx.export(model, x, tmp_path / "special.onnx")
        expected = np.cumprod(x, axis=1)
    (got,) = run_ort(tmp_path / "special.onnx", x)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(expected))


def test_arctan2_on_the_axes_and_at_signed_zeros_matches_numpy_in_onnx_runtime(tmp_path):
    """The exported arctan2 (ONNX has none) on the quadrants, both axes and the four signed
    zeros of the origin, where numpy's angles are +-0 and +-pi (ONNX Runtime's Where gives +0
    where numpy's angle is -0, at (-0, +0): equal as numbers)."""
    model = Lambda(lambda x: ops.arctan2(x[:, 0], x[:, 1])).eval()
    pairs = [(1, 1), (1, -1), (-1, -1), (-1, 1), (0.0, -2), (-0.0, -2), (0.0, 3), (-0.0, 3),
             (2, 0.0), (2, -0.0), (-2, 0.0), (-2, -0.0),
             (0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0)]
    x = np.array(pairs, dtype=np.float32)
    tc.onnx.export(model, x, tmp_path / "a.onnx")
    (got,) = run_ort(tmp_path / "a.onnx", x)
    expected = np.arctan2(x[:, 0], x[:, 1])
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert got[[4, 5, 14, 15]].tolist() == [np.float32(np.pi), np.float32(-np.pi)] * 2


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("fn", [
    lambda x: ops.einsum("bij,bkj->bik", x, x),                      # a batched Gram matrix
    lambda x: ops.einsum("...j,jk->...k", x, np.ones((4, 2), dtype=np.float32)),
    lambda x: ops.einsum("bij->bj", x) * 2,
], ids=["gram", "ellipsis-constant", "sum"])
def test_einsum_matches_onnx_runtime(tmp_path, fn):
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(12), tmp_path / "e.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 3, 4)).astype(np.float32), path)
    assert "Einsum" in {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("layer", [nn.Upsample(scale_factor=2), nn.Upsample(size=(5, 7)),
                                   nn.Upsample(scale_factor=1.5, mode="bilinear"),
                                   nn.Upsample(size=(6, 3), mode="bilinear", align_corners=True),
                                   nn.Upsample(size=(7, 5), mode="bicubic"),
                                   nn.Upsample(scale_factor=0.5, mode="area"),
                                   nn.Upsample(size=(5, 9), mode="nearest-exact")],
                         ids=["nearest-2x", "nearest-size", "bilinear", "bilinear-corners",
                              "bicubic", "area", "nearest-exact"])
def test_upsample_matches_onnx_runtime(tmp_path, layer):
    """Upsample exports as what it is made of: Gather of the chosen rows and columns (nearest,
    nearest-exact), MatMul by the constant matrices (bilinear, bicubic, area)."""
    model = nn.Sequential(nn.Conv2d(2, 3, 3), layer, nn.ReLU()).eval()
    rng, path = np.random.default_rng(13), tmp_path / "u.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 2, 6, 6)).astype(np.float32), path)
    for batch in (2, 5):
        x = rng.standard_normal((batch, 2, 6, 6)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
def test_trilinear_volumes_match_onnx_runtime(tmp_path):
    """Along each of the three axes a MatMul by a constant matrix; no axis of those matrices
    has the example's batch size (4), which the exporter would take for a replayed input."""
    model = nn.Sequential(nn.Upsample(size=(3, 5, 7), mode="trilinear"), nn.ReLU()).eval()
    rng, path = np.random.default_rng(17), tmp_path / "t.onnx"
    tc.onnx.export(model, rng.standard_normal((4, 2, 2, 3, 6)).astype(np.float32), path)
    for batch in (4, 5):
        x = rng.standard_normal((batch, 2, 2, 3, 6)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


class LastStep(nn.Module):
    """A recurrent layer (batch_first) and a linear layer on its last step's output."""

    def __init__(self, layer):
        self.layer, self.fc = layer, nn.Linear(layer.state_size * layer.directions, 2)

    def forward(self, x):
        out, _ = self.layer(x)
        return self.fc(out[:, -1])


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("layer", [nn.RNN(3, 4, batch_first=True),
                                   nn.LSTM(3, 4, num_layers=2, batch_first=True),
                                   nn.GRU(3, 4, batch_first=True, bidirectional=True),
                                   nn.LSTM(3, 4, num_layers=2, batch_first=True, proj_size=2)],
                         ids=["rnn", "lstm-2-layers", "gru-bidirectional", "lstm-projected"])
def test_recurrent_layers_unrolled_match_onnx_runtime_at_any_batch_size(tmp_path, layer):
    """Exported unrolled over the example's 5 steps; zero initial states leave no array of the
    batch's size in the file (the first step has no h W_hh term), so any batch size runs."""
    model, rng, path = LastStep(layer).eval(), np.random.default_rng(14), tmp_path / "r.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 5, 3)).astype(np.float32), path)
    for batch in (2, 7):
        x = rng.standard_normal((batch, 5, 3)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
def test_a_bare_lstm_exports_its_nested_outputs_depth_first(tmp_path):
    """nn.LSTM returns (out, (h_n, c_n)): the file's outputs are out, h_n and c_n, in that order,
    h_n and c_n with the batch on their axis 1 as ours."""
    model, rng, path = nn.LSTM(3, 4, num_layers=2, batch_first=True).eval(), \
        np.random.default_rng(5), tmp_path / "lstm.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 5, 3)).astype(np.float32), path)
    assert [out.name for out in proto.graph.output] == ["output_0", "output_1", "output_2"]
    for batch in (2, 3):
        x = rng.standard_normal((batch, 5, 3)).astype(np.float32)
        with tc.no_grad():
            out, (h_n, c_n) = model(tc.Value(x))
        got = run_ort(path, x)
        assert [g.shape for g in got] == [(batch, 5, 4), (2, batch, 4), (2, batch, 4)]
        for g, expected in zip(got, [out, h_n, c_n], strict=True):
            assert float(np.abs(g - expected.data).max()) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("settings", [{"proj_size": 2},
                                      {"proj_size": 3, "num_layers": 2, "bidirectional": True,
                                       "bias": False}],
                         ids=["one-layer", "two-layers-bidirectional-no-bias"])
def test_lstm_with_projections_output_and_states_match_onnx_runtime(tmp_path, settings):
    """An LSTM with proj_size exports as the ops it runs (the projection is one more MatMul by
    weight_hr per step): output (N, L, directions * P), h_n and c_n, batch first, all equal."""
    class States(nn.Module):
        def __init__(self):
            self.lstm = nn.LSTM(3, 5, batch_first=True, **settings)

        def forward(self, x):
            out, (h_n, c_n) = self.lstm(x)
            return out, h_n.transpose(1, 0, 2), c_n.transpose(1, 0, 2)   # (N, layers*dirs, .)

    model, rng, path = States().eval(), np.random.default_rng(17), tmp_path / "p.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 4, 3)).astype(np.float32), path)
    names = {init.name for init in proto.graph.initializer}
    assert "lstm.weight_hr_l0" in names
    for batch in (2, 5):
        x = rng.standard_normal((batch, 4, 3)).astype(np.float32)
        with tc.no_grad():
            expected = [v.data for v in model(tc.Value(x))]
        got = run_ort(path, x)
        p, k = settings["proj_size"], 2 if settings.get("bidirectional") else 1
        assert [g.shape for g in got] == [e.shape for e in expected] == \
            [(batch, 4, k * p), (batch, k * settings.get("num_layers", 1), p),
             (batch, k * settings.get("num_layers", 1), 5)]
        for g, e in zip(got, expected, strict=True):
            assert float(np.abs(g - e).max()) < TOLERANCE


class SelfAttention(nn.Module):
    """Multi-head self-attention (batch_first), causal when `causal`, and a linear layer."""

    def __init__(self, causal: bool):
        self.attention, self.fc = nn.MultiheadAttention(8, 2, batch_first=True), nn.Linear(8, 3)
        self.mask = np.triu(np.ones((5, 5), dtype=bool), k=1) if causal else None

    def forward(self, x):
        out, _ = self.attention(x, x, x, attn_mask=self.mask, need_weights=False)
        return self.fc(out)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("causal", [False, True], ids=["plain", "causal"])
def test_multihead_attention_matches_onnx_runtime(tmp_path, causal):
    model, rng, path = SelfAttention(causal).eval(), np.random.default_rng(15), tmp_path / "a.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 5, 8)).astype(np.float32), path)
    for batch in (2, 6):
        x = rng.standard_normal((batch, 5, 8)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


class CrossAttention(nn.Module):
    """MultiheadAttention (batch_first) with kdim=6 and vdim=3 (keys and values: parts of the
    input's features), add_bias_kv and add_zero_attn, under a causal mask."""

    def __init__(self):
        self.attention = nn.MultiheadAttention(8, 2, kdim=6, vdim=3, add_bias_kv=True,
                                               add_zero_attn=True, batch_first=True)
        for param in (self.attention.in_proj_bias, self.attention.out_proj.bias):
            param.data[...] = np.random.default_rng(3).standard_normal(param.shape)
        self.mask = np.triu(np.ones((5, 5), dtype=bool), k=1)

    def forward(self, x):
        out, _ = self.attention(x, x[..., :6], x[..., 5:], attn_mask=self.mask)
        return out


@pytest.mark.filterwarnings("error")
def test_multihead_attention_with_kdim_vdim_bias_kv_and_zero_attn_matches_onnx_runtime(tmp_path):
    """bias_k and bias_v go in as a padded row replaced by Where, the zero key as Pad: no array
    of the batch's size, so any batch size runs."""
    model, rng, path = CrossAttention().eval(), np.random.default_rng(17), tmp_path / "c.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 5, 8)).astype(np.float32), path)
    for batch in (2, 6):
        x = rng.standard_normal((batch, 5, 8)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
def test_transformer_encoder_matches_onnx_runtime(tmp_path):
    layer = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True, activation="gelu")
    model = nn.Sequential(nn.TransformerEncoder(layer, 2), nn.Linear(8, 3)).eval()
    rng, path = np.random.default_rng(16), tmp_path / "t.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 5, 8)).astype(np.float32), path)
    for batch in (2, 4):
        x = rng.standard_normal((batch, 5, 8)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.parametrize("layer, example, message", [
    (nn.LSTM(3, 4), (5, 2, 3), r"layer 'layer' \(LSTM\) takes its sequences as \(L, N, \.\.\.\) "
                               r"\(batch_first=False\); expected batch_first=True"),
    (nn.GRU(3, 4, batch_first=True), (5, 3), r"layer 'layer' \(GRU\) gets one unbatched "
                                             r"sequence of shape \(5, 3\); expected a batch"),
], ids=["sequence-first", "one-sequence"])
def test_a_recurrent_layer_must_take_batches_first_to_export(tmp_path, layer, example, message):
    """Else the exported first axis "N" would be the sequence length, and the unrolled loop would
    read a longer sequence only as far as the example's."""
    class Last(nn.Module):
        def __init__(self):
            self.layer = layer

        def forward(self, x):
            return self.layer(x)[0]

    x = np.random.default_rng(0).standard_normal(example).astype(np.float32)
    with pytest.raises(ValueError, match=rf"^onnx.export: {message}"):
        tc.onnx.export(Last().eval(), x, tmp_path / "s.onnx")
    attention = nn.MultiheadAttention(4, 2).eval()

    class Attend(nn.Module):
        def __init__(self):
            self.attention = attention

        def forward(self, x):
            return self.attention(x, x, x)[0]

    with pytest.raises(ValueError, match=r"layer 'attention' \(MultiheadAttention\) takes its "
                                         r"sequences as \(L, N, \.\.\.\)"):
        tc.onnx.export(Attend().eval(), np.ones((5, 2, 4), dtype=np.float32), tmp_path / "a.onnx")


@pytest.mark.filterwarnings("error")
def test_encoder_decoder_transformer_matches_onnx_runtime(tmp_path):
    """The whole Transformer, on src and a causal tgt derived from one input (an export has one
    input): the first 3 steps are the source, the last 4 the target."""
    class Seq2Seq(nn.Module):
        def __init__(self):
            self.transformer = nn.Transformer(8, 2, 1, 1, 16, batch_first=True)
            self.mask = nn.Transformer.generate_square_subsequent_mask(4)

        def forward(self, x):
            return self.transformer(x[:, :3], x[:, 3:], tgt_mask=self.mask)

    model, rng, path = Seq2Seq().eval(), np.random.default_rng(17), tmp_path / "s.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 7, 8)).astype(np.float32), path)
    for batch in (2, 5):
        x = rng.standard_normal((batch, 7, 8)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


# ---------------------------------------------------------------- more activations

# (layer, the ONNX op types it exports to at opset 13, and from opset 18 on)
MORE_ACTIVATIONS = [
    (nn.SELU(), {"Selu"}, {"Selu"}),
    (nn.CELU(0.5), {"Celu"}, {"Celu"}),
    (nn.Mish(), {"Softplus", "Tanh", "Mul"}, {"Mish"}),
    (nn.Hardswish(), {"HardSigmoid", "Mul"}, {"HardSwish"}),
    (nn.Hardsigmoid(), {"HardSigmoid"}, {"HardSigmoid"}),
    (nn.Softsign(), {"Softsign"}, {"Softsign"}),
    (nn.Tanhshrink(), {"Tanh", "Sub"}, {"Tanh", "Sub"}),
    (nn.Softshrink(0.7), {"Shrink"}, {"Shrink"}),
    (nn.Hardshrink(0.7), {"Shrink"}, {"Shrink"}),
    (nn.Threshold(0.3, -2.0), {"Greater", "Where"}, {"Greater", "Where"}),
    (nn.GLU(1), {"Slice", "Sigmoid", "Mul"}, {"Slice", "Sigmoid", "Mul"}),
    (nn.Softmin(1), {"Neg", "Softmax"}, {"Neg", "Softmax"}),
    (nn.LogSigmoid(), {"Neg", "Softplus"}, {"Neg", "Softplus"}),
]
ON_THE_KINKS = [-3.0, 3.0, -0.7, 0.7, 0.3, 0.0]      # hardswish's, the shrinks', threshold's


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])          # before and after Mish, HardSwish
@pytest.mark.parametrize("layer, old_nodes, new_nodes", MORE_ACTIVATIONS,
                         ids=[repr(case[0]) for case in MORE_ACTIVATIONS])
def test_more_activations_match_onnx_runtime(tmp_path, opset, layer, old_nodes, new_nodes):
    """SELU, CELU, Softsign as ONNX's ops of those names; Mish and Hardswish as Mish and
    HardSwish from opset 18 (14) on, before as x tanh(softplus(x)) and x HardSigmoid(x);
    Hardsigmoid as HardSigmoid(alpha=1/6, beta=1/2); the shrinks as Shrink; Threshold as a Where;
    Softmin as Softmax(-x); GLU and Tanhshrink through the ops they are made of. Values spread
    over [-6, 6], some exactly on the kinks."""
    model, rng, path = layer.eval(), np.random.default_rng(14), tmp_path / "act.onnx"

    def example(batch):
        x = rng.uniform(-6, 6, (batch, 4, 6)).astype(np.float32)
        x[0, 0] = ON_THE_KINKS
        return x

    proto = tc.onnx.export(model, example(2), path, opset=opset)
    assert {node.op_type for node in proto.graph.node} == (new_nodes if opset >= 18
                                                             else old_nodes)
    for batch in (2, 1, 5):
        assert max_difference(model, path, example(batch)) < TOLERANCE
    assert {"SELU", "CELU", "Mish", "Hardswish", "Hardsigmoid", "Softsign", "Tanhshrink",
            "Softshrink", "Hardshrink", "Threshold", "Softmin",
            "LogSigmoid"} <= set(tc.onnx.supported_ops())


def test_celu_of_float64_exports_as_its_formula(tmp_path):
    """ONNX's Celu takes float32 only: a float64 celu exports as where(x > 0, x,
    alpha (e^(x / alpha) - 1))."""
    model = Lambda(lambda x: ops.celu(x, 0.5)).eval()
    x = np.random.default_rng(15).uniform(-6, 6, (3, 5))
    x[0, :3] = [-1.0, 0.0, 1.0]
    proto = tc.onnx.export(model, x, tmp_path / "celu.onnx")
    assert "Celu" not in {node.op_type for node in proto.graph.node}
    (got,) = run_ort(tmp_path / "celu.onnx", x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, ours(model, x), rtol=1e-14, atol=1e-15)


class CellLoop(nn.Module):
    """A cell stepped three times over one input, its h read out at the end."""

    def __init__(self, cell):
        self.cell, self.fc = cell, nn.Linear(4, 2)

    def forward(self, x):
        state = None
        for _ in range(3):
            state = self.cell(x, state)
        return self.fc(state[0] if isinstance(state, tuple) else state)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("cell", [nn.RNNCell(3, 4), nn.LSTMCell(3, 4),
                                  nn.GRUCell(3, 4, bias=False)], ids=["rnn", "lstm", "gru"])
def test_recurrent_cells_match_onnx_runtime(tmp_path, cell):
    model, rng, path = CellLoop(cell).eval(), np.random.default_rng(19), tmp_path / "c.onnx"
    tc.onnx.export(model, rng.standard_normal((3, 3)).astype(np.float32), path)
    for batch in (3, 5):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 18])          # the Reduce ops' axes: attribute, input
@pytest.mark.parametrize("fn, nodes", [
    (lambda x: ops.norm(x, 2, axis=1), {"ReduceL2"}),
    (lambda x: x.norm(1, axis=(1, 2), keepdims=True), {"ReduceL1"}),
    (lambda x: ops.norm(x, 3, axis=(0, 2)), {"Abs", "Pow", "ReduceSum"}),     # the batch too
    (lambda x: ops.norm(x, 0.5, axis=-1), {"Abs", "Pow", "ReduceSum"}),
    (lambda x: ops.norm(x, np.inf, axis=2), {"Abs", "ReduceMax"}),
    (lambda x: ops.norm(x, -np.inf, axis=1, keepdims=True), {"Abs", "ReduceMin"}),
    (lambda x: ops.norm(ops.relu(x), 0, axis=2), {"Equal", "Not", "ReduceSum"}),
    (lambda x: ops.norm(x, 2, axis=()), {"Abs"}),                  # no axes: |x|
    (lambda x: ops.normalize(x, axis=1), {"ReduceL2", "Clip", "Div"}),
    (lambda x: ops.pairwise_distance(x, x * 2, p=1.0), {"ReduceL1"}),
], ids=["l2", "l1-keepdims", "p3-batch", "p0.5", "inf", "-inf-keepdims", "count", "no-axes",
        "normalize", "pairwise_distance"])
def test_norm_matches_onnx_runtime(tmp_path, fn, nodes, opset):
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(18), tmp_path / "norm.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 3, 4)).astype(np.float32), path,
                           opset=opset)
    assert nodes <= {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE
    assert "Norm" in tc.onnx.supported_ops()


class TwoInputs(nn.Module):
    """A Bilinear layer of x and relu(x), with parameters in a ParameterList and a
    ParameterDict: the containers' parameters are initializers under their state-dict names."""

    def __init__(self):
        rng = np.random.default_rng(21)
        self.bilinear = nn.Bilinear(4, 4, 3, rng=rng)
        self.scales = nn.ParameterList([rng.standard_normal(4).astype(np.float32)])
        self.shift = nn.ParameterDict({"out": rng.standard_normal(3).astype(np.float32)})

    def forward(self, x):
        return self.bilinear(x * self.scales[0], ops.relu(x)) + self.shift["out"]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [13, 19])
@pytest.mark.parametrize("layer, shape", [
    (nn.PixelShuffle(2), (8, 3, 2)), (nn.PixelUnshuffle(2), (2, 4, 6)),
    (nn.ChannelShuffle(2), (6, 2, 3)), (nn.Unflatten(1, (2, 3)), (6, 4)),
    (nn.ZeroPad2d((1, -1, 2, 0)), (3, 4, 5)), (nn.ConstantPad1d((2, 1), 0.5), (3, 4)),
    (nn.ReflectionPad2d((1, 2, 0, 1)), (2, 3, 4)), (nn.ReplicationPad1d((0, 3)), (2, 3)),
    (nn.CircularPad2d(1), (2, 3, 4)),
], ids=["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "unflatten", "zero_pad-crop",
        "constant_pad", "reflection_pad", "replication_pad", "circular_pad"])
def test_shape_and_padding_layers_match_onnx_runtime(tmp_path, layer, shape, opset):
    if isinstance(layer, nn.CircularPad2d) and opset < 19:
        refused_below_opset(Lambda(layer).eval(), np.ones((2, *shape), dtype=np.float32),
                            tmp_path / "c.onnx", 19, r"mode 'wrap', which exists from "
                                                   r"opset 19 on")
        return
    model, rng, path = Lambda(layer).eval(), np.random.default_rng(20), tmp_path / "s.onnx"
    tc.onnx.export(model, rng.standard_normal((2, *shape)).astype(np.float32), path, opset=opset)
    for batch in (2, 5):
        x = rng.standard_normal((batch, *shape)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
def test_bilinear_and_parameter_containers_match_onnx_runtime(tmp_path):
    model, rng, path = TwoInputs().eval(), np.random.default_rng(22), tmp_path / "b.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 4)).astype(np.float32), path)
    assert "Einsum" in {node.op_type for node in proto.graph.node}
    assert {"scales.0", "shift.out", "bilinear.weight"} <= {i.name for i in
                                                              proto.graph.initializer}
    for batch in (2, 5):
        x = rng.standard_normal((batch, 4)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset, fold_nodes", [(13, {"ConvTranspose"}), (17, {"ConvTranspose"}),
                                               (18, {"Col2Im"})])
@pytest.mark.parametrize("settings", [{"kernel_size": 3},
                                      {"kernel_size": (2, 3), "dilation": (1, 2), "padding": 1,
                                       "stride": (2, 1)},
                                      {"kernel_size": 2, "padding": (0, 1), "stride": 3}],
                         ids=["3x3", "dilated-padded-strided", "stride-past-the-blocks"])
def test_unfold_and_fold_match_onnx_runtime(tmp_path, settings, opset, fold_nodes):
    """unfold exports as a Gather of the padded image's pixels; fold as Col2Im from opset 18,
    before it as the adjoint of that gather, a ConvTranspose with one-hot kernels."""
    model = nn.Sequential(nn.Unfold(**settings), Lambda(lambda c: c * c),
                          nn.Fold((6, 7), **settings)).eval()
    rng, path = np.random.default_rng(23), tmp_path / "f.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 3, 6, 7)).astype(np.float32), path,
                           opset=opset)
    assert {"Gather"} | fold_nodes <= {node.op_type for node in proto.graph.node}
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3, 6, 7)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


# ---------------------------------------------------------------- instance norm, adaptive max
# pooling, channel dropout, 1-D transposed convolution


def trained_instance_norm(layer, shape):
    """The layer after two training steps, so that its running statistics are not the
    initial zeros and ones."""
    rng = np.random.default_rng(5)
    for _ in range(2):
        layer(rng.standard_normal(shape).astype(np.float32) * 2 + 1)
    return layer


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("layer, nodes", [
    (nn.AdaptiveMaxPool2d((4, 7)), {"MaxPool"}),                # bins that tile: a MaxPool
    (nn.AdaptiveMaxPool2d((3, 5)), {"Slice", "ReduceMax", "Concat"}),
    (nn.AdaptiveMaxPool2d((3, None)), {"Slice", "ReduceMax", "Concat"}),
    (nn.AdaptiveMaxPool2d(1), {"MaxPool"}),
    (nn.InstanceNorm2d(3, affine=True), {"ReduceMean"}),
    (trained_instance_norm(nn.InstanceNorm2d(3, track_running_stats=True), (4, 3, 8, 7)),
     {"BatchNormalization"}),
    (nn.Dropout2d(0.5), set()),
], ids=["max-tiling", "max-bins", "max-none", "max-global", "instance", "instance-running",
        "dropout2d"])
def test_new_2d_layers_match_onnx_runtime(tmp_path, layer, nodes):
    model = nn.Sequential(nn.Conv2d(2, 3, 2), layer, nn.ReLU()).eval()
    rng, path = np.random.default_rng(17), tmp_path / "m.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 9, 8)).astype(np.float32), path)
    assert nodes <= {n.op_type for n in proto.graph.node}
    for batch in (2, 5):
        x = rng.standard_normal((batch, 2, 9, 8)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("layer", [
    nn.AdaptiveMaxPool1d(3), nn.AdaptiveMaxPool1d(8), nn.AdaptiveAvgPool1d(3),
    nn.InstanceNorm1d(3, affine=True),
    trained_instance_norm(nn.InstanceNorm1d(3, affine=True, track_running_stats=True),
                          (4, 3, 8)),
    nn.Dropout1d(0.5), nn.ConvTranspose1d(3, 2, 3, stride=2, padding=1, output_padding=1),
    nn.ConvTranspose1d(3, 6, 2, groups=3, dilation=2),
], ids=["max-bins", "max-tiling", "avg", "instance", "instance-running", "dropout1d",
        "transposed", "transposed-grouped"])
def test_new_1d_layers_match_onnx_runtime(tmp_path, layer):
    model = nn.Sequential(nn.Conv1d(2, 3, 2), layer, nn.ReLU()).eval()
    rng, path = np.random.default_rng(19), tmp_path / "m.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 2, 9)).astype(np.float32), path)
    for batch in (2, 5):
        x = rng.standard_normal((batch, 2, 9)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


class AdaptivePoolAndUnpool(nn.Module):
    """An adaptive max pool whose indices an unpool takes: they must come out of the MaxPool."""

    def __init__(self, output_size):
        self.conv = nn.Conv2d(2, 3, 1)
        self.pool = nn.AdaptiveMaxPool2d(output_size, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)

    def forward(self, x):
        out, indices = self.pool(self.conv(x))
        return self.unpool(out, indices)


@pytest.mark.filterwarnings("error")
def test_adaptive_max_pool_indices_export_from_the_max_pool(tmp_path):
    model = AdaptivePoolAndUnpool((4, 3)).eval()          # 8x6 into 2x2 bins
    rng, path = np.random.default_rng(23), tmp_path / "m.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 2, 8, 6)).astype(np.float32), path)
    for batch in (2, 3):
        x = rng.standard_normal((batch, 2, 8, 6)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


def test_adaptive_max_pool_indices_of_bins_of_different_sizes_are_refused(tmp_path):
    model = AdaptivePoolAndUnpool((3, 3)).eval()          # 8 rows into 3 bins
    with pytest.raises(ValueError, match=r"onnx.export: adaptive_max_pool2d with "
                                         r"return_indices=True .* pools 8x6 into 3x3 bins of "
                                         r"different sizes.* pick an output_size that divides"):
        tc.onnx.export(model, np.ones((2, 2, 8, 6), np.float32), tmp_path / "m.onnx")


@pytest.mark.filterwarnings("error")
def test_cosine_similarity_matches_onnx_runtime(tmp_path):
    """Its norms clamped at eps (ClampedValue) export as Max; a zero row stays finite."""
    model = Lambda(lambda x: ops.cosine_similarity(x[:, :2], x[:, 2:], axis=1)).eval()
    rng, path = np.random.default_rng(23), tmp_path / "cos.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((3, 4, 5)).astype(np.float32), path)
    assert "Max" in {node.op_type for node in proto.graph.node}
    for batch in (3, 6):
        x = rng.standard_normal((batch, 4, 5)).astype(np.float32)
        x[0] = 0.0                                   # norms below eps: the clamp decides
        assert max_difference(model, path, x) < TOLERANCE
    assert "ClampedValue" in tc.onnx.supported_ops()


class Volumes(nn.Module):
    """conv3d (strided, padded, "same" with dilation and groups), BatchNorm3d, and the 3-D pools."""

    def __init__(self):
        rng = np.random.default_rng(31)
        self.conv = nn.Conv3d(2, 4, (3, 2, 3), stride=(1, 2, 1), padding=(1, 0, 1), rng=rng)
        self.same = nn.Conv3d(4, 4, 2, padding="same", dilation=(2, 1, 1), groups=2, rng=rng)
        self.bn = nn.BatchNorm3d(4)
        self.pool = nn.MaxPool3d(2, stride=(1, 2, 2), padding=1, dilation=(1, 1, 2))
        self.avg = nn.AvgPool3d(2, stride=1, padding=1, count_include_pad=False)
        self.override = nn.AvgPool3d((1, 2, 1), stride=1, divisor_override=3)
        self.bins = nn.AdaptiveAvgPool3d((2, 3, 2))           # bins of different sizes

    def forward(self, x):                                     # x (N, 2, 5, 6, 7)
        h = self.bn(self.same(self.conv(x)).relu())           # (N, 4, 5, 3, 7)
        return self.bins(self.override(self.avg(self.pool(h))))


@pytest.mark.parametrize("opset", [17, 22])
def test_volumes_match_onnx_runtime_at_two_batch_sizes(tmp_path, opset):
    model, rng = Volumes().eval(), np.random.default_rng(32)
    model.bn.running_mean.data[:] = rng.standard_normal(4)
    model.bn.running_var.data[:] = rng.uniform(0.5, 2, 4)
    path = tmp_path / "volumes.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 5, 6, 7)).astype(np.float32), path,
                           opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    kinds = [node.op_type for node in proto.graph.node]
    # conv3d is one conv2d over the depth windows: one Conv, and one per group when grouped
    assert kinds.count("Conv") == 1 + 2 and kinds.count("MaxPool") == 1
    assert kinds.count("AveragePool") == 2 and "BatchNormalization" in kinds
    for batch in (2, 3):
        x = rng.standard_normal((batch, 2, 5, 6, 7)).astype(np.float32)
        assert ours(model, x).shape == (batch, 4, 2, 3, 2)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.parametrize("make", [
    lambda: nn.MaxPool3d((2, 3, 2), stride=2, padding=1, ceil_mode=True),
    lambda: nn.AvgPool3d(3, stride=2, padding=1, ceil_mode=True),
    lambda: nn.AdaptiveAvgPool3d(1),
    lambda: nn.AdaptiveAvgPool3d((2, 3, 1)),                  # equal bins: one AveragePool
])
def test_3d_pools_with_ceil_mode_and_global_bins_match_onnx_runtime(tmp_path, make):
    model, rng, path = make().eval(), np.random.default_rng(33), tmp_path / "pool.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 3, 4, 6, 5)).astype(np.float32), path,
                   opset=22)
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3, 4, 6, 5)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


def test_max_pool3d_indices_come_from_the_max_pool_node(tmp_path):
    """The indices Value of max_pool3d(return_indices=True) is the MaxPool node's second
    output, each volume's own place (Mod by D*H*W), as the 2-D pools'."""

    class Indices(nn.Module):
        def forward(self, x):
            out, indices = ops.max_pool3d(x, 2, stride=1, return_indices=True)
            return out, indices

    model, rng, path = Indices().eval(), np.random.default_rng(34), tmp_path / "idx.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 3, 4, 4)).astype(np.float32), path)
    assert [node.op_type for node in proto.graph.node].count("MaxPool") == 1
    for batch in (2, 3):
        x = rng.integers(0, 3, (batch, 2, 3, 4, 4)).astype(np.float32)      # ties too
        out, indices = run_ort(path, x)
        with tc.no_grad():
            our_out, our_indices = model(tc.Value(x))
        np.testing.assert_array_equal(out, our_out.data)
        np.testing.assert_array_equal(indices, our_indices.data)


class MoreVolumes(nn.Module):
    """conv_transpose3d (plain; grouped and dilated with an output_padding past its stride), a
    max pool whose indices max_unpool3d takes, and adaptive_max_pool3d: over bins that tile the
    volume with their indices, and over bins of different sizes."""

    def __init__(self):
        rng = np.random.default_rng(35)
        self.up = nn.ConvTranspose3d(2, 4, (3, 2, 3), stride=(2, 1, 2), padding=1,
                                     output_padding=(1, 0, 0), rng=rng)
        self.spread = nn.ConvTranspose3d(4, 4, 2, groups=2, dilation=(3, 1, 1),
                                         output_padding=(2, 0, 0), rng=rng)
        self.pool = nn.MaxPool3d(2, return_indices=True)
        self.unpool = nn.MaxUnpool3d(2)
        self.tiles = nn.AdaptiveMaxPool3d((1, 2, 3), return_indices=True)
        self.bins = nn.AdaptiveMaxPool3d((2, 3, 2))

    def forward(self, x):                                     # x (N, 2, 3, 4, 3)
        h = self.spread(self.up(x))                           # (N, 4, 11, 4, 6)
        pooled, indices = self.pool(h)
        h = self.unpool(pooled, indices, h.shape[2:])         # back to (N, 4, 11, 4, 6)
        maxima, places = self.tiles(h)                        # (N, 4, 1, 2, 3) twice
        return self.bins(h), maxima, places


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("opset", [17, 18])
def test_more_volumes_match_onnx_runtime_at_two_batch_sizes(tmp_path, opset):
    """conv_transpose3d exports as the ops it is made of (a fold: ConvTranspose with one-hot
    kernels before opset 18, Col2Im from it), max_unpool3d as max_unpool2d's MaxUnpool between
    Reshapes, adaptive_max_pool3d as a MaxPool (with its Indices) or Slices and ReduceMaxes."""
    model, rng, path = MoreVolumes().eval(), np.random.default_rng(36), tmp_path / "more.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((2, 2, 3, 4, 3)).astype(np.float32), path,
                           opset=opset)
    onnx.checker.check_model(proto, full_check=True)
    kinds = [node.op_type for node in proto.graph.node]
    assert kinds.count("MaxUnpool") == 1 and kinds.count("MaxPool") == 2
    assert ("Col2Im" in kinds) == (opset >= 18)
    for batch in (2, 3):
        x = rng.standard_normal((batch, 2, 3, 4, 3)).astype(np.float32)
        got = run_ort(path, x)
        with tc.no_grad():
            expected = model(tc.Value(x))
        assert [g.shape for g in got] == [(batch, 4, 2, 3, 2), (batch, 4, 1, 2, 3)] + [
            (batch, 4, 1, 2, 3)]
        for ort_out, our_out in zip(got, expected, strict=True):
            assert ort_out.dtype == our_out.dtype
            assert np.abs(ort_out - our_out.data).max() < TOLERANCE


def test_adaptive_max_pool3d_indices_of_bins_of_different_sizes_are_refused(tmp_path):
    model = Lambda(lambda x: ops.adaptive_max_pool3d(x, (2, 2, 3), return_indices=True)).eval()
    with pytest.raises(ValueError, match=r"^onnx.export: adaptive_max_pool3d with return_indices="
                                         r"True \(module ''\) pools 4x5x6 into 2x2x3 bins of "
                                         r"different sizes, .*; expected bins that tile the input "
                                         r"\(D % OD == 0 and H % OH == 0 and W % OW == 0\); pick "
                                         r"an output_size that divides the input's size, or pass "
                                         r"return_indices=False$"):
        tc.onnx.export(model, np.ones((2, 1, 4, 5, 6), np.float32), tmp_path / "m.onnx")


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("fn", [
    lambda x: ops.flip(x, (1, 2)) + ops.roll(x, (1, -1), axis=(1, 2)),
    lambda x: ops.tile(x, (1, 2, 1)) * ops.repeat(x, [2, 0, 1, 1], axis=2).repeat(2, 1),
    lambda x: ops.squeeze(ops.expand_dims(x, (1, -1)), 1).swapaxes(1, 3)[:, 0],
    lambda x: ops.moveaxis(x, 2, 1) * 2,
    lambda x: ops.diagonal(x, 1, 1, 2) + x.trace(-1, 2, 1)[:, None],
    lambda x: ops.tril(x, 1) - ops.triu(x),
], ids=["flip-roll", "tile-repeat", "expand_dims-squeeze-swapaxes", "moveaxis",
        "diagonal-trace", "tril-triu"])
def test_rearranging_ops_match_onnx_runtime_at_two_batch_sizes(tmp_path, fn):
    model, rng, path = Lambda(fn).eval(), np.random.default_rng(14), tmp_path / "r.onnx"
    tc.onnx.export(model, rng.standard_normal((2, 3, 4)).astype(np.float32), path)
    for batch in (2, 5):
        x = rng.standard_normal((batch, 3, 4)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("spatial, mode, padding_mode, align_corners", [
    ((6, 7), "bilinear", "zeros", False), ((6, 7), "nearest", "reflection", True),
    ((6, 7), "bicubic", "border", False), ((3, 4, 5), "bilinear", "reflection", False),
])
def test_a_spatial_transformer_exports_with_its_grid_computed_at_run_time(
        tmp_path, spatial, mode, padding_mode, align_corners):
    """affine_grid and grid_sample export as their parts (MatMul for the grid; Floor or Round,
    Clip, Abs, Mod, Min for the positions; GatherElements for GatherPixels), so theta, made
    from each input by the localisation layer, moves the grid in ONNX Runtime too."""
    dims = len(spatial)

    class Transformer(nn.Module):
        def __init__(self):
            self.loc = nn.Linear(2 * math.prod(spatial), dims * (dims + 1),
                                 rng=np.random.default_rng(21))

        def forward(self, x):                            # x (N, 2, *spatial)
            theta = self.loc(ops.flatten(x, 1)).reshape(-1, dims, dims + 1) * 2
            grid = ops.affine_grid(theta, (x.shape[0], 2, *spatial[:-1], 4), align_corners)
            return ops.grid_sample(x, grid, mode, padding_mode, align_corners)

    model, rng, path = Transformer().eval(), np.random.default_rng(22), tmp_path / "stn.onnx"
    proto = tc.onnx.export(model, rng.standard_normal((3, 2, *spatial)).astype(np.float32), path)
    assert {"MatMul", "GatherElements", "Clip" if padding_mode != "zeros" else "Floor"} <= {
        node.op_type for node in proto.graph.node}
    for batch in (3, 1, 5):
        x = rng.standard_normal((batch, 2, *spatial)).astype(np.float32)
        assert max_difference(model, path, x) < TOLERANCE
