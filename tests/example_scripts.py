"""`load_example`: import an example script as a module, for tests (examples/ is not a package)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_example(relative_path: str, name: str):
    """Import ROOT/relative_path under `name`, with its folder on sys.path while it runs, since
    examples import their neighbours by name (train.py imports model.py)."""
    folder = str((ROOT / relative_path).parent)
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / relative_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module
