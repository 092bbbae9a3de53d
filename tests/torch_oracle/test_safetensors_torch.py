"""Weights that PyTorch loads: the seed CNN's .safetensors file loads into its PyTorch twin with
load_state_dict(strict=True) and gives our outputs on MNIST images within 1e-5, and a file
PyTorch writes loads into our model; likewise for the zoo networks' PyTorch twins, and for
PyTorch's own LSTM, GRU and Transformer. Also runs
docs/moving-on.md with its PyTorch blocks (fenced ```py, which tests/test_docs.py leaves out,
since PyTorch is only a test oracle)."""

import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from example_scripts import load_example
from mnist_sample import mnist_batch
from optional import require

import tinygrad_cnn as tc

require("safetensors", "safetensors")

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 1e-5


SeedCNN = load_example("examples/mnist/model.py", "seed_model").SeedCNN


@pytest.fixture(scope="module")
def torch_seed_cnn(torch):
    """The PyTorch twin of SeedCNN: the same module names, so the same state_dict keys."""
    tnn = torch.nn

    class TorchSeedCNN(tnn.Module):
        def __init__(self, channels=(16, 32)):
            super().__init__()
            c1, c2 = channels
            self.conv1 = tnn.Conv2d(1, c1, kernel_size=10)    # (N, 1, 28, 28) -> (N, c1, 19, 19)
            self.relu1 = tnn.ReLU()
            self.conv2 = tnn.Conv2d(c1, c2, kernel_size=10)   # -> (N, c2, 10, 10)
            self.relu2 = tnn.ReLU()
            self.pool = tnn.MaxPool2d(2)                      # -> (N, c2, 5, 5)
            self.flatten = tnn.Flatten()                      # -> (N, c2 * 25)
            self.fc = tnn.Linear(c2 * 5 * 5, 10)              # -> (N, 10)

        def forward(self, x):
            x = self.relu1(self.conv1(x))
            x = self.relu2(self.conv2(x))
            return self.fc(self.flatten(self.pool(x)))

    return TorchSeedCNN


def torch_outputs(torch, twin, x):
    with torch.no_grad():
        return twin(torch.from_numpy(x)).numpy()


def our_outputs(model, x):
    with tc.no_grad():
        return model(tc.Value(x)).data


def test_our_weights_load_into_pytorch_strictly_and_give_our_outputs(torch, torch_seed_cnn,
                                                                    tmp_path):
    from safetensors.torch import load_file
    tc.manual_seed(0)
    model = SeedCNN()
    tc.save(model.state_dict(), tmp_path / "seed_cnn.safetensors")
    twin = torch_seed_cnn().to(torch.float32)
    twin.load_state_dict(load_file(tmp_path / "seed_cnn.safetensors"), strict=True)
    for name, tensor in twin.state_dict().items():
        assert tensor.dtype == torch.float32, name
        np.testing.assert_array_equal(tensor.numpy(), model.state_dict()[name])
    for batch, offset in ((8, 0), (1, 500)):
        x = mnist_batch(batch, offset)
        theirs, ours = torch_outputs(torch, twin, x), our_outputs(model, x)
        assert theirs.dtype == ours.dtype == np.float32
        assert np.abs(theirs - ours).max() < TOLERANCE


def test_weights_pytorch_writes_load_into_our_model(torch, torch_seed_cnn, tmp_path):
    from safetensors.torch import save_file
    torch.manual_seed(0)
    twin = torch_seed_cnn(channels=(4, 8)).to(torch.float32)
    save_file(twin.state_dict(), tmp_path / "from_torch.safetensors")
    weights = tc.load(tmp_path / "from_torch.safetensors")
    assert {name: array.dtype for name, array in weights.items()} == \
        {name: np.dtype(np.float32) for name in twin.state_dict()}
    model = SeedCNN(channels=(4, 8))
    model.load_state_dict(weights, strict=True)
    x = mnist_batch(6, offset=1000)
    assert np.abs(torch_outputs(torch, twin, x) - our_outputs(model, x)).max() < TOLERANCE


def test_float64_and_integer_tensors_keep_their_dtypes_both_ways(torch, tmp_path):
    from safetensors.torch import load_file, save_file
    tc.save({"w": np.arange(6.0).reshape(2, 3), "steps": np.array(7, dtype=np.int64),
             "mask": np.array([True, False])}, tmp_path / "ours.safetensors")
    tensors = load_file(tmp_path / "ours.safetensors")
    assert {k: v.dtype for k, v in tensors.items()} == {
        "w": torch.float64, "steps": torch.int64, "mask": torch.bool}
    assert tensors["steps"].shape == () and int(tensors["steps"]) == 7
    save_file({"h": torch.ones(2, dtype=torch.float16), "i": torch.arange(3, dtype=torch.int32)},
              tmp_path / "theirs.safetensors")
    loaded = tc.load(tmp_path / "theirs.safetensors")
    assert (loaded["h"].dtype, loaded["i"].dtype) == (np.float16, np.int32)
    assert loaded["i"].tolist() == [0, 1, 2]


def test_a_bfloat16_file_from_pytorch_is_refused_naming_the_tensor(torch, tmp_path):
    from safetensors.torch import save_file
    save_file({"fc.weight": torch.ones(2, 2, dtype=torch.bfloat16)},
              tmp_path / "bf16.safetensors")
    with pytest.raises(ValueError, match=r"load: tensor 'fc\.weight' in '.*bf16\.safetensors' "
                                         r"has dtype BF16, which numpy cannot hold"):
        tc.load(tmp_path / "bf16.safetensors")


ZOO = load_example("examples/zoo/models.py", "zoo_models").MODELS     # name -> (class, loss)


@pytest.mark.parametrize("name", sorted(ZOO))
def test_zoo_weights_load_into_the_zoo_pytorch_twins(torch, tmp_path, name):
    from safetensors.torch import load_file
    ours_cls, _ = ZOO[name]
    twin_cls, _ = load_example("examples/zoo/torch_twin.py", "zoo_twin").MODELS[name]
    tc.manual_seed(0)
    model = ours_cls()
    for offset in (0, 16):               # batch norm's running statistics move off 0 and 1
        model(tc.Value(mnist_batch(16, offset)))
    model.eval()
    tc.save(model.state_dict(), tmp_path / f"{name}.safetensors")
    twin = twin_cls().to(torch.float32).eval()
    twin.load_state_dict(load_file(tmp_path / f"{name}.safetensors"), strict=True)
    x = mnist_batch(5, offset=2000)
    assert np.abs(torch_outputs(torch, twin, x) - our_outputs(model, x)).max() < TOLERANCE


def test_docs_moving_on_runs_with_its_pytorch_blocks(torch, tmp_path, monkeypatch):
    """docs/moving-on.md, its ```python and ```py blocks in order in one namespace, each block's
    Output asserted: the same rules as tests/test_docs.py, which runs only the python blocks."""
    import test_docs
    text = (ROOT / "docs" / "moving-on.md").read_text()
    blocks = test_docs.code_blocks(text.replace("```py\n", "```python\n"))
    assert len(blocks) > len(test_docs.code_blocks(text)), "the page has no ```py blocks"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)       # the oracle fixture sets float64; a reader's
    try:                                         # PyTorch has float32
        for first, code, expected in blocks:
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                exec(compile("\n" * (first - 1) + code, "docs/moving-on.md", "exec"), namespace)
            if expected is not None:
                assert test_docs.output_matches(expected, stdout.getvalue()), \
                    f"docs/moving-on.md, block at line {first} printed:\n{stdout.getvalue()}"
    finally:
        torch.set_default_dtype(default_dtype)


@pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning")
@pytest.mark.parametrize("name, ours, inputs", [
    ("LSTM", lambda: tc.nn.LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True),
     [(2, 5, 3)]),
    ("GRU", lambda: tc.nn.GRU(3, 4, batch_first=True), [(2, 5, 3)]),
    ("Transformer", lambda: tc.nn.Transformer(8, 2, 1, 1, 16, batch_first=True),
     [(2, 5, 8), (2, 3, 8)]),
], ids=["lstm", "gru", "transformer"])
def test_sequence_models_weights_load_into_pytorch_strictly(torch, tmp_path, name, ours, inputs):
    """Our recurrent and Transformer layers' weights load into PyTorch's same layers with
    strict=True, and give our outputs."""
    from safetensors.torch import load_file
    ours = ours().eval()
    settings = {"LSTM": dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True),
                "GRU": dict(input_size=3, hidden_size=4),
                "Transformer": dict(d_model=8, nhead=2, num_encoder_layers=1,
                                    num_decoder_layers=1, dim_feedforward=16)}[name]
    theirs = getattr(torch.nn, name)(**settings, batch_first=True).float().eval()
    tc.save(ours.state_dict(), tmp_path / "w.safetensors")
    theirs.load_state_dict(load_file(tmp_path / "w.safetensors"), strict=True)
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(shape).astype(np.float32) for shape in inputs]
    with tc.no_grad():
        out = ours(*arrays)
    with torch.no_grad():
        their_out = theirs(*map(torch.from_numpy, arrays))
    out, their_out = (out[0], their_out[0]) if name != "Transformer" else (out, their_out)
    np.testing.assert_allclose(out.data, their_out.numpy(), atol=TOLERANCE)


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN:UserWarning")
def test_lstm_with_projections_weights_move_to_and_from_pytorch_strictly(torch, tmp_path):
    """An LSTM with proj_size: our .safetensors file loads into PyTorch's LSTM of the same
    settings with strict=True (weight_hr_l{k}, weight_hh (4H, P), the next layer's weight_ih
    (4H, 2P) in PyTorch's names and shapes), and a file PyTorch writes loads into ours; either
    way the two give the same output, h_n and c_n."""
    from safetensors.torch import load_file, save_file
    settings = dict(num_layers=2, bidirectional=True, batch_first=True, proj_size=2)
    x = np.random.default_rng(4).standard_normal((2, 5, 3)).astype(np.float32)

    def same_results(ours, theirs):
        with tc.no_grad():
            out, (h_n, c_n) = ours(x)
        with torch.no_grad():
            their_out, (their_h, their_c) = theirs(torch.from_numpy(x))
        for a, b in ((out, their_out), (h_n, their_h), (c_n, their_c)):
            assert a.shape == tuple(b.shape)
            np.testing.assert_allclose(a.data, b.numpy(), atol=TOLERANCE)

    ours, theirs = tc.nn.LSTM(3, 4, **settings), torch.nn.LSTM(3, 4, **settings).float()
    tc.save(ours.state_dict(), tmp_path / "ours.safetensors")
    theirs.load_state_dict(load_file(tmp_path / "ours.safetensors"), strict=True)
    same_results(ours, theirs)
    ours, theirs = tc.nn.LSTM(3, 4, **settings), torch.nn.LSTM(3, 4, **settings).float()
    save_file(theirs.state_dict(), tmp_path / "theirs.safetensors")
    ours.load_state_dict(tc.load(tmp_path / "theirs.safetensors"), strict=True)
    same_results(ours, theirs)
