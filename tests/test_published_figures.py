"""Every published figure points to its raw output: each ``benchmarks/results/...`` path named in
the documents and experiment files exists, so a figure cannot outlive its log."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = sorted([REPO / "README.md", REPO / "BENCHMARKS.md", REPO / "experiments" / "README.md",
                    *(REPO / "docs").glob("*.md"), *(REPO / "experiments").glob("*.yaml")])
LOG_PATH = re.compile(r"benchmarks/results/[\w./-]*[\w/]")


def _named_logs(text: str) -> list[str]:
    return [m.group(0).rstrip("./") for m in LOG_PATH.finditer(text)]


def test_the_pattern_finds_log_paths_in_markdown():
    text = "raw: `benchmarks/results/2026-12-02_xeon/cifar10_cpu.txt`, and (benchmarks/results/x/)."
    assert _named_logs(text) == ["benchmarks/results/2026-12-02_xeon/cifar10_cpu.txt", "benchmarks/results/x"]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_log_a_document_names_exists(document: Path):
    missing = [p for p in _named_logs(document.read_text()) if not (REPO / p).exists()]
    assert not missing, f"{document.relative_to(REPO)} names logs that are not in the repository: {missing}"
