"""Optional extras in tests: `require("onnx", "onnx")` imports a package of an extra; outside CI
a missing one skips the test file with the reason, in CI (CI=true), where .ci/run installs the
dev extras, it fails, so a broken install cannot pass as skipped tests."""

import importlib
import os

import pytest


def require(module: str, extra: str):
    """The imported module, or a skip (outside CI) / a failure (in CI) naming the extra."""
    if os.environ.get("CI") == "true":
        try:
            return importlib.import_module(module)
        except ImportError as error:
            pytest.fail(f"{module} is required in CI ({error}); the '{extra}' extra installs it: "
                        f"pip install -e '.[dev]'", pytrace=False)
    return pytest.importorskip(module, reason=f"needs the '{extra}' extra: pip install -e "
                                              f"'.[{extra}]'")
