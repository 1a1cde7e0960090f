"""`score_many`: same results as `score`, in order, from any number of threads."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from iam_risk_score import score, score_many

from conftest import ADMIN, READ_ONE_OBJECT, managed_policies


@pytest.fixture(scope="module")
def policies() -> list[dict[str, Any]]:
    return managed_policies(limit=300)


@pytest.fixture(scope="module")
def expected(policies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [score(p) for p in policies]


@pytest.mark.parametrize("threads", [None, 1, 2, 3, 8])
def test_equals_sequential_score(
    policies: list[dict[str, Any]], expected: list[dict[str, Any]], threads: int | None
) -> None:
    assert score_many(policies, threads=threads) == expected


def test_mixed_input_kinds_and_iterables(policies: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    mixed: list[Any] = []
    for i, p in enumerate(policies[:30]):
        mixed.append([p, json.dumps(p), json.dumps(p).encode(), bytearray(json.dumps(p).encode())][i % 4])
    assert score_many(mixed) == expected[:30]
    assert score_many(tuple(policies[:5])) == expected[:5]
    assert score_many(p for p in policies[:5]) == expected[:5]
    assert score_many([]) == []


def test_options_apply_to_every_policy() -> None:
    many = score_many([READ_ONE_OBJECT, ADMIN], access_type="read-only", duration_hours=48)
    assert many == [
        score(READ_ONE_OBJECT, access_type="read-only", duration_hours=48),
        score(ADMIN, access_type="read-only", duration_hours=48),
    ]
    assert all(r["context"] == {"access_type": "read-only", "duration_hours": 48} for r in many)


def test_concurrent_calls_from_python_threads(
    policies: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    """Many Python threads at once, each mixing `score` and `score_many` with different pools."""
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def worker(k: int) -> None:
        try:
            start.wait()
            for round_ in range(3):
                chunk = policies[k * 40 : k * 40 + 40]
                want = expected[k * 40 : k * 40 + 40]
                assert score_many(chunk, threads=(k % 3) + 1) == want
                assert [score(p) for p in chunk[round_::7]] == want[round_::7]
                assert score_many(chunk) == want
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_thread_pool_executor_with_score(
    policies: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(score, policies)) == expected


def test_gil_is_released_while_scoring(policies: list[dict[str, Any]]) -> None:
    """Another Python thread runs while one thread is inside `score_many`.

    The ticker holds the GIL only for an instant per tick (it sleeps in between), so if the
    engine kept the GIL for the whole call, at most a tick or two could slip in.
    """
    ticks = 0
    done = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.0005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        start = time.perf_counter()
        before = ticks
        score_many(policies * 3, threads=1)
        during = ticks - before
        elapsed = time.perf_counter() - start
    finally:
        done.set()
        t.join()
    assert during >= 5, f"only {during} ticks in {elapsed * 1000:.0f} ms inside score_many"
