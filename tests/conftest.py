"""Shared fixtures: MovieLens-100k from the cache, or a skip that says how to get it; the cases
of the exercise-check contract (``tests/check_contract.py``); the checks' "fresh" draws seeded
per test, so a run is reproducible; a line in the terminal summary per reason tests were
skipped, so a skip is never silent."""

from __future__ import annotations

import os
import random
import zlib
from collections import Counter
from types import SimpleNamespace

import pytest
import torch

from llmrec_ref.datasets import MovieLens, load_movielens_100k


@pytest.fixture(scope="session")
def movielens() -> MovieLens:
    """The real data set; tests that need it are skipped (not failed) when it is not cached."""
    try:
        return load_movielens_100k(download=False)
    except FileNotFoundError:
        pytest.skip("MovieLens-100k is not in the cache: run `python -m llmrec_ref data fetch ml-100k`")


@pytest.fixture(autouse=True)
def seeded_check_draws(request, monkeypatch):
    """The exercise checks draw their cases from the OS (``checks._fresh``), so that no answer can
    be fitted to them. In the test suite that would make a rare draw fail a run that passed before:
    each test gets draws seeded from its own name instead. ``LLMREC_CHECK_DRAWS=fresh`` restores the
    OS draws, to sweep many cases (run the check tests in a loop) when a check changes."""
    if os.environ.get("LLMREC_CHECK_DRAWS") == "fresh":
        return
    from llmrec_ref.checks import _fresh

    draws = random.Random(zlib.crc32(request.node.nodeid.encode()))
    monkeypatch.setattr(_fresh, "secrets", SimpleNamespace(randbits=draws.getrandbits))


@pytest.fixture
def one_thread():
    """Tiny models: a second thread only adds synchronisation (and a busy machine makes it worse)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run ``check_contract``'s tests on the importing module's ``RIGHT`` / ``WRONG`` cases."""
    if "right_case" in metafunc.fixturenames:
        right = metafunc.module.RIGHT
        metafunc.parametrize("right_case", list(right.items()), ids=[c.__name__ for c in right])
    if "wrong_case" in metafunc.fixturenames:
        wrong = metafunc.module.WRONG
        metafunc.parametrize("wrong_case", wrong, ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(wrong)])


def skip_lines(reports) -> list[str]:
    """One line per distinct skip reason, most frequent first: "20 browser tests skipped: <why>"."""
    reasons: Counter = Counter()
    for report in reports:
        why = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        kind = "browser test" if report.nodeid.startswith("tests/test_site.py") else "test"
        reasons[kind, why.removeprefix("Skipped: ")] += 1
    return [f"{n} {kind}{'s' if n > 1 else ''} skipped: {why}" for (kind, why), n in reasons.most_common()]


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = skip_lines(terminalreporter.stats.get("skipped", []))
    if lines:
        terminalreporter.section("why tests were skipped", sep="-")
        for line in lines:
            terminalreporter.write_line(line)
