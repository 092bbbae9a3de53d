"""The documentation cannot lie: every ```python block of docs/*.md and README.md runs, and the
printed output it shows is asserted; every public name is in docs/api.md with a docstring.

How a Markdown file is run:
- its ```python blocks run in order, in one namespace (a later block sees an earlier block's
  names), in a fresh empty temporary folder as the working directory;
- a ```text block that directly follows a ```python block (only blank lines between them) and
  whose first line starts with the word "Output" shows what that python block prints. The lines
  after the "Output" line must equal the block's standard output, line by line (trailing spaces
  and trailing blank lines ignored). Inside an expected line, "..." matches any text; a line
  that is only "..." matches any number of lines (for paths or timings; use it sparingly);
- a python block without such a text block runs but its output is not checked;
- when a block needs graphviz's `dot` program and it is missing, the rest of that file is
  skipped (in CI, where `dot` must be installed, it fails instead).
Blocks in other languages (```bash, ```text without "Output", ...) are never run.
"""

import ast
import contextlib
import html
import importlib
import inspect
import io
import os
import re
import subprocess
import sys
import textwrap
import traceback
from pathlib import Path

import graphviz
import pytest

import tinygrad_cnn as tc

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN = DOCS + [path for path in [ROOT / "README.md"] if path.exists()]
FENCE = re.compile(r"^```(\w*)\s*$")


def code_blocks(text: str) -> list[tuple[int, str, str | None]]:
    """(first code line number, python source, expected output or None) per ```python block."""
    lines = text.splitlines()
    blocks, i = [], 0     # (language, first code line (1-based), code, opening, closing index)
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        blocks.append((opening[1], i + 2, "\n".join(lines[i + 1:end]), i, end))
        i = end + 1
    found = []
    for k, (language, first, code, _, end) in enumerate(blocks):
        if language != "python":
            continue
        expected = None
        if k + 1 < len(blocks):
            language_next, _, body, start_next, _ = blocks[k + 1]
            between = lines[end + 1:start_next]
            body_lines = body.splitlines()
            if (language_next == "text" and not any(line.strip() for line in between)
                    and body_lines and body_lines[0].startswith("Output")):
                expected = "\n".join(body_lines[1:])
        found.append((first, code, expected))
    return found


def output_matches(expected: str, actual: str) -> bool:
    """Line-by-line equality, with "..." matching any text inside a line or any run of lines."""
    def clean(text):
        lines = [line.rstrip() for line in text.splitlines()]
        while lines and not lines[-1]:
            lines.pop()
        return lines

    pattern = []
    for line in clean(expected):
        if line.strip() == "...":
            pattern.append(r"(?:[^\n]*\n)*?")
        else:
            pattern.append(".*?".join(map(re.escape, line.split("..."))) + r"\n")
    text = "".join(line + "\n" for line in clean(actual))
    return re.fullmatch("".join(pattern), text) is not None


def needs_dot(error: BaseException) -> bool:
    """Whether `error` says that graphviz's dot program is missing."""
    return (isinstance(error, graphviz.ExecutableNotFound)
            or (isinstance(error, RuntimeError) and "`dot` program was not found" in str(error)))


def run_markdown(path: Path) -> dict:
    """Run the python blocks of `path` in the current folder, asserting their shown output;
    returns the namespace they ran in."""
    namespace = {"__name__": "__main__"}
    relative = path.relative_to(ROOT)
    for first, code, expected in code_blocks(path.read_text()):
        where = f"{relative}, python block at line {first}"
        # leading newlines make tracebacks give the line numbers of the Markdown file
        compiled = compile("\n" * (first - 1) + code, str(relative), "exec")
        stdout = io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout):
                exec(compiled, namespace)
        except Exception as error:
            if needs_dot(error) and os.environ.get("CI") != "true":
                pytest.skip(f"{where} needs graphviz's dot program, which is not installed")
            pytest.fail(f"{where} raised:\n{traceback.format_exc()}\nprinted so far:\n"
                        f"{stdout.getvalue()}", pytrace=False)
        if expected is not None and not output_matches(expected, stdout.getvalue()):
            pytest.fail(f"{where} printed something else than its Output block.\n--- shown in "
                        f"the docs:\n{expected}\n--- printed:\n{stdout.getvalue()}",
                        pytrace=False)
    return namespace


@pytest.mark.parametrize("path", MARKDOWN, ids=[path.name for path in MARKDOWN])
def test_markdown_code_blocks_run_and_print_what_they_show(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [path.name])
    run_markdown(path)


def test_autograd_md_picture_shows_the_graph_the_page_builds(tmp_path, monkeypatch):
    """docs/img/autograd_fanout.svg has the same node texts as the page's graph of L."""
    monkeypatch.chdir(tmp_path)
    namespace = run_markdown(ROOT / "docs" / "autograd.md")
    source = tc.draw_graph(namespace["L"]).source
    labels = [quoted or bare for quoted, bare in re.findall(r'label=(?:"([^"]*)"|(\S+))', source)]
    expected = sorted(part.strip() for label in labels for part in label.split("|"))
    svg = (ROOT / "docs" / "img" / "autograd_fanout.svg").read_text()
    shown = sorted(html.unescape(text) for text in re.findall(r"<text[^>]*>([^<]*)</text>", svg))
    assert shown == expected


def test_code_block_parser_pairs_output_blocks_and_wildcards():
    text = ("Intro.\n\n```python\nprint(1)\n```\n\n```text\nOutput:\n1\n```\n\n"
            "```python\nx = 2\n```\nText.\n```text\nOutput\n2\n```\n"
            "```bash\nmake test\n```\n```python\nprint(x)\n```\n```text\nnot output\n```\n")
    assert code_blocks(text) == [(4, "print(1)", "1"), (13, "x = 2", None),
                                 (24, "print(x)", None)]
    assert output_matches("a ... c\n...\nend", "a b b c\nline\nline\nend  \n\n")
    assert output_matches("...\nend", "end\n")
    assert not output_matches("a\nb", "a\nc")
    assert not output_matches("a", "a\nb")


def test_tutorial_docs_have_blocks_with_checked_output():
    """The doc tests really run something: each tutorial page has python blocks, and at least
    one of them has its output checked."""
    for name in ("index.md", "autograd.md", "ops.md", "custom-layers.md"):
        blocks = code_blocks((ROOT / "docs" / name).read_text())
        assert blocks, f"docs/{name} has no python blocks"
        assert any(expected is not None for _, _, expected in blocks), \
            f"docs/{name} shows no output that the tests check"


def import_gen_api():
    """docs/gen_api.py, imported as a module."""
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        return importlib.import_module("gen_api")
    finally:
        sys.path.remove(str(ROOT / "docs"))


def test_every_public_name_is_in_api_md_with_a_docstring():
    """Every name in the packages' __all__ lists, and every module-level class and function
    that docs/api.md lists, has a heading in api.md and a docstring with a first line."""
    gen_api = import_gen_api()
    api = (ROOT / "docs" / "api.md").read_text()
    headings = set(re.findall(r"^#{2,4} `([\w.]+)", api, flags=re.MULTILINE))
    missing, undocumented = [], []
    for module_name in gen_api.MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            if f"{module_name}.{name}" not in headings:
                missing.append(f"{module_name}.{name}")
    for qualified in sorted(headings):
        module_name, _, name = qualified.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            missing.append(f"{qualified} (listed in api.md but not found)")
            continue
        if (inspect.isclass(obj) or inspect.isroutine(obj)) and not gen_api.first_line(obj):
            undocumented.append(qualified)
    assert not missing, (f"public names missing from docs/api.md: {', '.join(missing)}; "
                         f"run python3 docs/gen_api.py")
    assert not undocumented, f"public names without a docstring: {', '.join(undocumented)}"


def test_api_md_is_what_gen_api_writes_now():
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "gen_api.py"), "--check"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stdout + result.stderr


def test_api_md_names_public_base_classes_only():
    """A layer built on a private base (nn.layers._Conv, _Pool, _BatchNorm, an optimizer's
    _BatchScheduler) shows the first public class above it, and the members that the private
    base defines, which api.md documents nowhere else, under the layer itself."""
    gen_api = import_gen_api()
    api = (ROOT / "docs" / "api.md").read_text()
    assert not re.findall(r"subclass of .*`[\w.]*\._\w+`", api)
    for name in ("Conv1d", "Conv2d", "MaxPool1d", "AvgPool2d", "BatchNorm2d", "MSELoss"):
        entry = re.search(rf"^### `tinygrad_cnn\.nn\.{name}\(.*\n\n(.*)", api, re.MULTILINE)
        assert entry[1] == "*class, subclass of `tinygrad_cnn.nn.Module`*", name
    assert gen_api.public_bases(tc.nn.Conv1d) == [tc.nn.Module]
    assert gen_api.public_bases(tc.nn.IncompatibleKeys) == [tuple]       # builtins are public
    assert gen_api.public_bases(tc.optim.OneCycleLR) == [tc.optim.LRScheduler]
    members = gen_api.class_members(tc.optim.CyclicLR)           # step, load_state_dict: private
    assert [line.split("(")[0] for line in members] == ["- `step", "- `load_state_dict"]
    assert members[1] in api


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown text: lowercase, punctuation dropped,
    spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_docs_link_only_to_files_and_headings_that_exist():
    link = re.compile(r"\]\(([\w./-]*\.(?:md|svg|png|py))?(?:#([\w-]+))?\)")
    for path in MARKDOWN:
        for target, anchor in link.findall(path.read_text()):
            linked = path.parent / target if target else path
            assert linked.exists(), f"{path.name} links to missing {target}"
            if anchor and linked.suffix == ".md":
                assert anchor in anchors(linked.read_text()), \
                    f"{path.name} links to #{anchor}, which is not a heading of {linked.name}"


def test_doc_blocks_are_valid_python():
    """Caught here with a clear message even when an earlier block of the same file fails."""
    for path in MARKDOWN:
        for first, code, _ in code_blocks(path.read_text()):
            try:
                ast.parse(code)
            except SyntaxError as error:
                pytest.fail(f"{path.name}, python block at line {first}: {error}")


def test_dot_detection_recognises_both_errors():
    assert needs_dot(graphviz.ExecutableNotFound(["dot"]))
    assert needs_dot(RuntimeError("render_to: graphviz's `dot` program was not found on PATH"))
    assert not needs_dot(RuntimeError("something else"))


QUOTE = re.compile(r"\(from `(tinygrad_cnn/[\w/]+\.py)`\):\n\n((?:(?: {4}.*)?\n)+)")


def quoted_library_code() -> list[tuple[str, str, str]]:
    """(markdown file, library file, code) for each indented block that the docs introduce as
    library code, with "(from `tinygrad_cnn/...py`):" ending the line before it."""
    quotes = []
    for path in MARKDOWN:
        for match in QUOTE.finditer(path.read_text()):
            lines = match[2].rstrip("\n").splitlines()
            code = "\n".join(line[4:] for line in lines)
            quotes.append((path.name, match[1], code))
    return quotes


def test_code_the_docs_quote_from_the_library_is_the_code_that_runs():
    quotes = quoted_library_code()
    assert len(quotes) >= 3, "expected the docs to quote library code in several places"
    for doc, source, code in quotes:
        text = (ROOT / source).read_text()
        indents = {line[:len(line) - len(line.lstrip())] for line in text.splitlines()}
        assert any(textwrap.indent(code, indent) in text for indent in indents), (
            f"{doc} quotes code as being from {source}, but it is not there:\n{code}")
