"""infra/cfn/waiting.py: polling against explicit success and failure sets (fake clock)."""

from __future__ import annotations

import pytest

from infra.cfn.waiting import Clock, wait_for
from infra.core.errors import OperationFailed


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0

    def sleep(self, seconds: float) -> None:
        self.t += seconds


def run(statuses, timeout_s=60.0):
    fake, seen = FakeTime(), []
    answers = iter(statuses)
    status = wait_for(
        lambda: next(answers),
        success={"DONE"},
        failure={"BROKEN"},
        timeout_s=timeout_s,
        interval_s=10,
        what="the thing",
        clock=Clock(now=lambda: fake.t, sleep=fake.sleep),
        on_poll=seen.append,
    )
    return status, seen, fake.t


def test_returns_the_first_success_or_failure_status_after_polling():
    assert run(["BUSY", "BUSY", "DONE"]) == ("DONE", ["BUSY", "BUSY", "DONE"], 20)
    assert run(["BUSY", "BROKEN", "DONE"]) == ("BROKEN", ["BUSY", "BROKEN"], 10)
    assert run(["DONE"]) == ("DONE", ["DONE"], 0)  # no sleep when already settled


def test_times_out_with_a_message_naming_what_and_the_last_status():
    with pytest.raises(OperationFailed) as late:
        run(["BUSY"] * 10, timeout_s=30)
    assert late.value.message.startswith(
        "timed out after 0.5 min waiting for the thing (still BUSY)."
    )
