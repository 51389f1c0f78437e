"""What is known about a call, written once.

A switch's events (`SwitchEvent`), what it says of a live call (`SwitchCallSnapshot`),
the ledger's input (`ledger.CallEvent`) and the Callbutton report's read model
(`calldetails.ReportCall`) all derive from `CallFacts`; the simulated switch keeps one per
call. A new call field is added here (and as a column of `storage.models.Call`, same
name), and every one of them carries it; the composition root hands a switch's facts to
the ledger with `facts_of`, not field by field.

The fields are keyword-only, so the values deriving from it keep their own positional
fields (`CallEvent("call.started", "cti", "c1", at, ani=...)`).
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal, Optional

Direction = Literal["inbound", "outbound"]


@dataclass(frozen=True, kw_only=True)
class CallFacts:
    direction: Optional[Direction] = None
    extension: Optional[str] = None  # the agent's extension (workstation) on the call
    ani: Optional[str] = None  # the caller's number
    did: Optional[str] = None  # the number dialled (a tracking number for Callbutton)
    target: Optional[str] = None  # where an outbound call (or a forwarded one) rang
    dtmf: Optional[str] = None  # digits the caller keyed
    result: Optional[str] = None  # how it ended: Connected, Busy, No Answer, Abandoned, Interrupted
    record: bool = True  # whether the switch records the call
    # Call-tracking details a PBX may know (Callbutton's report carries them).
    campaign_id: Optional[int] = None
    info_digits: Optional[str] = None  # "", "p" (payphone), "c" (cell phone)
    index_number: Optional[str] = None
    other_data: Optional[str] = None
    caller_address: Optional[dict] = None  # the ADDRESS_KEYS of the ledger


FACT_NAMES = tuple(f.name for f in fields(CallFacts))
# The facts the ledger's Call row holds under the same name (`record` is whether it has a Recording).
STORED_FACTS = tuple(name for name in FACT_NAMES if name != "record")


def facts_of(value: CallFacts) -> dict[str, Any]:
    """The call facts of any value deriving from CallFacts, as keyword arguments for another."""
    return {name: getattr(value, name) for name in FACT_NAMES}
