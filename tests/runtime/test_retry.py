"""One retry helper for every compare-and-set loop: bounded, backed off, and loud when
it gives up."""

from __future__ import annotations

import logging

import pytest

from berthing.model import GenerationConflict
from berthing.runtime import Every, Liveness, retry_conflicts


def test_retries_until_the_write_lands() -> None:
    calls = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise GenerationConflict("Record x", "k", 1, 2)
        return "landed"

    assert retry_conflicts("writing k", attempt) == "landed"
    assert len(calls) == 3


def test_gives_up_after_its_budget_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    def attempt() -> None:
        calls.append(1)
        raise GenerationConflict("Record x", "k", 1, 2)

    with caplog.at_level(logging.WARNING), pytest.raises(GenerationConflict):
        retry_conflicts("writing k", attempt, budget=4)
    assert len(calls) == 4
    assert "gave up on writing k after 4" in caplog.text


def test_other_errors_are_not_retried() -> None:
    calls = []

    def attempt() -> None:
        calls.append(1)
        raise ValueError("bad")

    with pytest.raises(ValueError):
        retry_conflicts("writing k", attempt)
    assert len(calls) == 1


def test_every_is_due_first_then_after_its_period() -> None:
    every = Every(3600)
    assert every.due() is True
    assert every.due() is False
    assert Every(0).due() and Every(0).due()


def test_liveness() -> None:
    live = Liveness()
    assert not live.alive(within=60)
    live.beat()
    assert live.alive(within=60) and live.steps == 1
