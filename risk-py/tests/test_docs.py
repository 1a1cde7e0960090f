"""Every Python example in docs/python.md runs against the installed package as written."""

from __future__ import annotations

import re
import sys
import types

import pytest

from conftest import ROOT

DOC = ROOT / "docs" / "python.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_doc_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    # A real module, so that dataclasses defined in an example can find their namespace.
    module = types.ModuleType("docs_example")
    sys.modules[module.__name__] = module
    try:
        exec(compile(code, f"{DOC.name} example", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    assert capsys.readouterr().out.strip(), "every example prints something"
