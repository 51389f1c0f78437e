"""The switch driver as the agent API sees it (services.core.agent_desk.CallControl): the same
calls, with the driver's errors turned into the agent API's refusals."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Optional

from services.core import agent_errors

from .driver import InvalidCallState, SwitchDriver, SwitchUnavailable, UnknownCall


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except UnknownCall as exc:
        raise agent_errors.NoSuchThing(str(exc)) from None
    except InvalidCallState as exc:
        raise agent_errors.SwitchRefused(str(exc)) from None
    except (SwitchUnavailable, ValueError) as exc:
        raise agent_errors.SwitchDown(str(exc)) from None


class DriverCallControl:
    def __init__(self, driver: SwitchDriver, source: str) -> None:
        self.driver = driver
        self.source = source

    def place_call(self, *, extension: Optional[str], number: str, ani: Optional[str], did: Optional[str],
                   answer_after_s: Optional[float], record: bool) -> str:
        with _translated():
            return self.driver.place_call(extension=extension, number=number, direction="outbound", ani=ani,
                                          did=did, answer_after_s=answer_after_s, duration_s=None, record=record)

    def hangup(self, call_id: str) -> None:
        with _translated():
            self.driver.hangup(call_id)

    def hold(self, call_id: str) -> None:
        with _translated():
            self.driver.hold(call_id)

    def retrieve(self, call_id: str) -> None:
        with _translated():
            self.driver.retrieve(call_id)

    def bridge(self, call_a: str, call_b: str) -> None:
        with _translated():
            self.driver.bridge(call_a, call_b)

    def pause_recording(self, call_id: str) -> None:
        with _translated():
            self.driver.pause_recording(call_id)

    def resume_recording(self, call_id: str) -> None:
        with _translated():
            self.driver.resume_recording(call_id)
