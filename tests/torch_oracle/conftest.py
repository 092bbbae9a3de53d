"""The `torch` fixture of the PyTorch-oracle tests: PyTorch float64 is the oracle that every op's
forward and gradients are compared with. Outside CI a missing torch skips these tests with the
reason printed; in CI (CI=true) it fails them, since there they must run. Each oracle test runs
with torch's default dtype float64, restored afterwards, so tests elsewhere that build PyTorch
models (the zoo's twins) keep PyTorch's float32 whatever the order of the tests."""

import os

import pytest


def _import_torch():
    try:
        import torch
    except ImportError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PyTorch is required in CI for the oracle tests: {error}; .ci/run "
                        f"installs torch==2.13.0 into .venv", pytrace=False)
        pytest.skip(f"PyTorch is not installed ({error}); install torch==2.13.0 into .venv to "
                    f"run the PyTorch-oracle tests")
    return torch


@pytest.fixture(scope="session")
def torch():
    return _import_torch()


@pytest.fixture(autouse=True)
def float64_default(torch):
    """torch's default dtype float64 for the test, then back to what it was."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)
