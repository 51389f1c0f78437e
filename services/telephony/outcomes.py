"""What happens to a simulated outbound call: ordered rules matched on the dialled number.

Configuration (the `outbound_outcomes` option) is a list of rules; the first whose
`pattern` matches the E.164 number (`fnmatch`, case-sensitive: `+44*`, `+1555???????`,
`*`) decides. No match: the call is answered after the `answer_after_s` it was placed with.

| outcome     | the call                                     | switch state | result      |
| ----------- | -------------------------------------------- | ------------ | ----------- |
| answer      | answered after `after_s`                     | answered     | Connected   |
| voicemail   | answered by a machine after `after_s`, which | answered     | Connected   |
|             | plays a `greeting_s` greeting and then takes |              |             |
|             | a message (at most `message_s` when the      |              |             |
|             | call has no duration of its own)             |              |             |
| busy        | busy tone after `after_s`, never answered    | ended        | Busy        |
| no_answer   | rings for `after_s`, never answered          | ended        | No Answer   |
| unreachable | the network gives up after `after_s`         | failed       | Abandoned   |

`unreachable` reports "Abandoned" because the ledger's result vocabulary (Connected, Busy,
No Answer, Abandoned) has no "failed": the attempt was dropped without ever ringing.
Defaults for `after_s` when a rule omits it: answer and voicemail use the call's own
`answer_after_s`, busy 1 s, no_answer 30 s, unreachable 0 s.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Iterable, Literal, Mapping, Optional

Outcome = Literal["answer", "voicemail", "busy", "no_answer", "unreachable"]
OUTCOMES: tuple[str, ...] = ("answer", "voicemail", "busy", "no_answer", "unreachable")
_DEFAULT_AFTER_S = {"busy": 1.0, "no_answer": 30.0, "unreachable": 0.0}
_MAX_S = 24 * 3600.0


@dataclass(frozen=True)
class OutcomeRule:
    pattern: str
    outcome: Outcome
    after_s: Optional[float] = None
    greeting_s: float = 5.0  # voicemail only
    message_s: float = 30.0  # voicemail only: how long a message may run


@dataclass(frozen=True)
class OutcomeDecision:
    outcome: Outcome
    after_s: float
    greeting_s: float = 0.0
    message_s: float = 0.0
    rule_index: Optional[int] = None  # None: no rule matched

    @property
    def answers(self) -> bool:
        return self.outcome in ("answer", "voicemail")


def _seconds(rule: Mapping[str, Any], name: str, default: Optional[float]) -> Optional[float]:
    value = rule.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"outcome rule {name!r} must be a number of seconds")
    number = float(value)
    if not 0 <= number <= _MAX_S:
        raise ValueError(f"outcome rule {name!r} must be between 0 and {_MAX_S:.0f} seconds")
    return number


class OutcomeRules:
    def __init__(self, rules: Iterable[OutcomeRule] = ()) -> None:
        self.rules: tuple[OutcomeRule, ...] = tuple(rules)

    @classmethod
    def from_config(cls, rules: Optional[Iterable[Mapping[str, Any]]]) -> "OutcomeRules":
        """Rules from configuration dicts; raises ValueError naming the faulty rule."""
        parsed = []
        for index, rule in enumerate(rules or ()):
            where = f"outbound outcome rule {index + 1}"
            if not isinstance(rule, Mapping):
                raise ValueError(f"{where} must be a table/object")
            unknown = set(rule) - {"pattern", "outcome", "after_s", "greeting_s", "message_s"}
            if unknown:
                raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            pattern, outcome = rule.get("pattern"), rule.get("outcome")
            if not isinstance(pattern, str) or not pattern:
                raise ValueError(f"{where}: 'pattern' must be a non-empty string")
            if outcome not in OUTCOMES:
                raise ValueError(f"{where}: 'outcome' must be one of {', '.join(OUTCOMES)}")
            try:
                parsed.append(OutcomeRule(
                    pattern=pattern, outcome=outcome, after_s=_seconds(rule, "after_s", None),
                    greeting_s=_seconds(rule, "greeting_s", 5.0), message_s=_seconds(rule, "message_s", 30.0)))
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
        return cls(parsed)

    def decide(self, number: Optional[str], answer_after_s: Optional[float]) -> OutcomeDecision:
        """The outcome for an outbound call to `number` placed with `answer_after_s`
        (None: ring until answered or hung up, so `after_s` is then infinite)."""
        requested = float("inf") if answer_after_s is None else float(answer_after_s)
        for index, rule in enumerate(self.rules):
            if fnmatchcase(number or "", rule.pattern):
                if rule.after_s is not None:
                    after = rule.after_s
                elif rule.outcome in ("answer", "voicemail"):
                    after = requested
                else:
                    after = _DEFAULT_AFTER_S[rule.outcome]
                if rule.outcome == "voicemail":
                    return OutcomeDecision("voicemail", after, rule.greeting_s, rule.message_s, index)
                return OutcomeDecision(rule.outcome, after, rule_index=index)
        return OutcomeDecision("answer", requested)
