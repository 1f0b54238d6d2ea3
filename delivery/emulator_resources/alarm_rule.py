"""A composite alarm's ``AlarmRule``: parsed, and evaluated against its alarms' states.

The grammar is PutCompositeAlarm's
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutCompositeAlarm.html):
``ALARM("name or ARN")``, ``OK(...)`` and ``INSUFFICIENT_DATA(...)`` are TRUE when that alarm is
in that state; ``TRUE`` and ``FALSE``; ``AND``, ``OR``, ``NOT`` and parentheses. "Alarm names
specified in AlarmRule can be surrounded with double-quotes ("), but do not have to be."
Precedence is the usual one (NOT binds tighter than AND, AND tighter than OR): AWS's reference
gives none, and its examples parenthesise where it would matter. ``AT_LEAST`` is refused here
(not modelled). A composite alarm is in ALARM when its rule is TRUE, else OK: it "goes into
ALARM state only if all conditions of the rule are met", and INSUFFICIENT_DATA only on creation
("For a composite alarm, this initial time after creation is the only time that the alarm can be
in INSUFFICIENT_DATA state", the same reference).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

STATES = ("ALARM", "OK", "INSUFFICIENT_DATA")
# A word is a keyword only when it is one whole ("ORDERS" is an unquoted name, not OR).
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<open>\() | (?P<close>\)) |
        (?P<quoted>"[^"]*") |
        (?P<word>[^\s()"]+)
    )""",
    re.VERBOSE,
)


class RuleError(ValueError):
    """An AlarmRule PutCompositeAlarm would refuse (ValidationError)."""


@dataclass(frozen=True)
class Rule:
    """A parsed AlarmRule: a node of the expression tree."""

    op: str  # AND, OR, NOT, TRUE, FALSE, or a state (ALARM, OK, INSUFFICIENT_DATA)
    operands: tuple[Rule, ...] = ()
    alarm: str = ""  # for a state function: the alarm's name (an ARN becomes its name)

    def alarms(self) -> set[str]:
        """The names of the alarms the rule reads."""
        found = {self.alarm} if self.alarm else set()
        for operand in self.operands:
            found |= operand.alarms()
        return found

    def holds(self, state_of: Callable[[str], str]) -> bool:
        """Whether the rule is TRUE, given each alarm's state."""
        if self.op in STATES:
            return state_of(self.alarm) == self.op
        if self.op == "NOT":
            return not self.operands[0].holds(state_of)
        if self.op == "AND":
            return all(o.holds(state_of) for o in self.operands)
        if self.op == "OR":
            return any(o.holds(state_of) for o in self.operands)
        return self.op == "TRUE"


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while text[position:].strip():
        match = _TOKEN.match(text, position)
        if match is None:
            raise RuleError(f"AlarmRule: cannot read {text[position:]!r}")
        tokens.append(next(v for v in match.groupdict().values() if v is not None))
        position = match.end()
    return tokens


def alarm_name(reference: str) -> str:
    """The alarm a rule names: by name, or by ARN (arn:...:alarm:<name>)."""
    if reference.startswith("arn:") and ":alarm:" in reference:
        return reference.split(":alarm:", 1)[1]
    return reference


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        item = self.peek()
        if item is None or (expected is not None and item != expected):
            raise RuleError(f"AlarmRule: expected {expected or 'more'}, found {item or 'the end'}")
        self.at += 1
        return item

    def either(self) -> Rule:
        operands = [self.both()]
        while self.peek() == "OR":
            self.take()
            operands.append(self.both())
        return operands[0] if len(operands) == 1 else Rule("OR", tuple(operands))

    def both(self) -> Rule:
        operands = [self.negation()]
        while self.peek() == "AND":
            self.take()
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else Rule("AND", tuple(operands))

    def negation(self) -> Rule:
        if self.peek() == "NOT":
            self.take()
            return Rule("NOT", (self.negation(),))
        return self.primary()

    def primary(self) -> Rule:
        item = self.take()
        if item == "(":
            inner = self.either()
            self.take(")")
            return inner
        if item in ("TRUE", "FALSE"):
            return Rule(item)
        if item in STATES:
            self.take("(")
            reference = self.take()
            if reference in ("(", ")"):
                raise RuleError(f"AlarmRule: {item}() names no alarm")
            self.take(")")
            return Rule(item, alarm=alarm_name(reference.strip('"')))
        raise RuleError(f"AlarmRule: unexpected {item!r} (not modelled, or not AWS's grammar)")


def parse(text: str) -> Rule:
    """The rule ``text`` states; RuleError when PutCompositeAlarm would refuse it."""
    parser = _Parser(text)
    rule = parser.either()
    if parser.peek() is not None:
        raise RuleError(f"AlarmRule: unexpected {parser.peek()!r}")
    return rule
