"""The notebooks in examples/notebooks: committed without outputs, and each one runs from top to
bottom in a fresh kernel of this Python, shows its plots and graphs as pictures, writes
nothing to stderr and asserts what its text claims, so a notebook that printed wrong numbers
fails here."""

import os
import re
import shutil
from pathlib import Path

import nbclient  # with nbformat and ipykernel, from nbmake in the dev extra: never skipped
import nbformat
import pytest

FOLDER = Path(__file__).resolve().parents[1] / "examples" / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))
KERNEL = "python3"          # ipykernel's own kernel: the Python that runs pytest
CELL_TIMEOUT = 300          # seconds; a cell that hangs fails instead of blocking CI


def read(path: Path):
    return nbformat.read(path, as_version=4)


def sources(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def draws_graphs(path: Path) -> bool:
    return any("tc.draw_graph(" in source for source in sources(read(path)))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 3, f"expected at least 3 notebooks in {FOLDER}, found {NOTEBOOKS}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_committed_without_outputs_and_for_the_python3_kernel(path):
    nb = read(path)
    nbformat.validate(nb)
    dirty = [i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
             and (cell.outputs or cell.execution_count is not None)]
    assert not dirty, (f"{path.name}: code cells {dirty} have outputs or execution counts; "
                       f"expected none; clear them before committing (JupyterLab: Edit > Clear "
                       f"Outputs of All Cells, then save; or .venv/bin/pip install nbconvert, "
                       f"then .venv/bin/jupyter nbconvert --clear-output --inplace "
                       f"examples/notebooks/{path.name})")
    assert nb.metadata.kernelspec.name == KERNEL, nb.metadata.kernelspec


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_asserts_its_claims(path):
    """Running a cell checks nothing by itself: the cells assert their key numbers, and a cell
    that shows an expected error fails when the error does not come (its `try` has an `else`)."""
    cells = sources(read(path))
    lines = [line.strip() for source in cells for line in source.splitlines()]
    assert any(line.startswith("assert ") for line in lines), \
        f"{path.name}: no code cell asserts anything; expected asserts of its key claims"
    quiet = [i for i, source in enumerate(cells) if re.search(r"^\s*except\b", source, re.M)
             and not re.search(r"^\s*else:", source, re.M)]
    assert not quiet, (f"{path.name}: code cells {quiet} catch an expected error but pass when "
                       f"it is not raised; add `else: raise AssertionError(...)`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_training_steps_zero_the_gradients_before_the_forward_pass(path):
    """As in pytorch/examples: zero_grad(); loss = ...; backward(); step(), wherever a step is
    shown."""
    for i, source in enumerate(sources(read(path))):
        lines = source.splitlines()
        for step in [k for k, line in enumerate(lines) if ".backward()" in line]:
            zeroing = [k for k in range(step) if "zero_grad()" in lines[k]
                       or re.search(r"\.grad = None\b", lines[k])]
            losses = [k for k in range(step) if re.match(r"\s*loss\b[^=]*=(?!=)", lines[k])]
            if zeroing and losses:     # the last of each before this backward()
                assert zeroing[-1] < losses[-1], (
                    f"{path.name} cell {i}: gradients are zeroed on line {zeroing[-1] + 1}, "
                    f"after the loss on line {losses[-1] + 1}; expected zero_grad() first")


def run(path: Path):
    """Execute a copy of the notebook in a fresh kernel, in its own folder (as Jupyter does);
    a cell that raises fails the test with that cell and its traceback."""
    nb = read(path)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def outputs(cell, output_type: str) -> list:
    return [out for out in cell.get("outputs", []) if out.output_type == output_type]


@pytest.mark.slow
@pytest.mark.parametrize("path", [
    pytest.param(path, marks=pytest.mark.skipif(
        draws_graphs(path) and shutil.which("dot") is None and os.environ.get("CI") != "true",
        reason="graphviz's dot program is not installed (in CI this test runs and fails "
               "instead)")) for path in NOTEBOOKS], ids=lambda path: path.name)
def test_runs_and_shows_its_pictures(path):
    nb = run(path)
    code_cells = [(i, cell) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"]
    for i, cell in code_cells:
        shown = {kind for out in outputs(cell, "display_data") + outputs(cell, "execute_result")
                 for kind in out.data}
        if "plt.show()" in cell.source:
            assert "image/png" in shown, f"{path.name} cell {i}: no figure shown ({shown})"
        if cell.source.splitlines()[-1].startswith("tc.draw_graph("):
            assert "image/svg+xml" in shown, f"{path.name} cell {i}: no graph shown ({shown})"
        errors = "".join(out.text for out in outputs(cell, "stream") if out.name == "stderr")
        assert not errors, f"{path.name} cell {i} wrote to stderr:\n{errors}"
    assert any("plt.show()" in cell.source for _, cell in code_cells), \
        f"{path.name} shows no figure"
