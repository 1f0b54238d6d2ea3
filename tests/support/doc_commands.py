"""Find the command lines in markdown and split them into shell words.

Where commands are: every line of a fenced block (a ``\\`` at a line's end joins the next line),
and every inline code span (which may wrap onto the next line, as markdown allows). Each line is
split with :mod:`shlex` the way a POSIX shell would: quotes, ``#`` comments, and the separators
``&& || ; | & ( )`` (so ``C=$(aws ...)`` gives the ``aws ...`` inside); leading ``NAME=value``
assignments, a ``$`` prompt, redirections and a ``uv run [options]`` prefix are dropped.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass

# A fence may be indented (inside a list item); its body runs to the next fence line.
_FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```[^\n]*$", re.MULTILINE | re.DOTALL)
# An inline span: single backticks, may wrap a line but not cross a blank line (a paragraph).
_INLINE = re.compile(r"`((?:[^`\n]|\n(?![ \t]*\n))+)`")
_SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")", ";;", "|&"}
_REDIRECTS = {">", ">>", "<", ">&", "<&", "&>", ">|", "<<", "<<<"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# A placeholder the reader fills in (`<arn>`, `<incident role ARN>`) is a word, not a redirection:
# its angle brackets and spaces are hidden from shlex and given back in the words.
_PLACEHOLDER = re.compile(r"<([A-Za-z][\w .:/-]*)>")
_OPEN, _CLOSE, _SPACE = "\x02", "\x03", "\x04"


@dataclass(frozen=True)
class Command:
    """One shell command in a document: its 1-based line, its words, and whether it stands in a
    fenced block (a whole command to run) or in an inline span (prose may cite a task and an
    option without the option's value)."""

    line: int
    words: tuple[str, ...]
    fenced: bool = True


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _blank_fences(text: str) -> str:
    """The text with each fenced block's characters (not its line breaks) blanked out."""
    return _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def fenced_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of every line in fenced blocks, ``\\``-continued lines joined."""
    for match in _FENCE.finditer(text):
        first = _line_of(text, match.start(1))
        pending: list[str] = []
        start = first
        for number, line in enumerate(match.group(1).splitlines(), start=first):
            if not pending:
                start = number
            if line.rstrip().endswith("\\"):
                pending.append(line.rstrip()[:-1])
                continue
            yield start, " ".join([*pending, line])
            pending = []
        if pending:
            yield start, " ".join(pending)


def code_spans(text: str) -> Iterator[tuple[int, str]]:
    """``(line, text)`` of every inline code span outside fenced blocks, line breaks as spaces.

    A ``\\|`` inside a span (a pipe escaped for a table) is a ``|``.
    """
    prose = _blank_fences(text)
    for match in _INLINE.finditer(prose):
        span = " ".join(part.strip() for part in match.group(1).split("\n"))
        yield _line_of(prose, match.start(1)), span.replace("\\|", "|")


def command_lines(text: str) -> Iterator[tuple[int, str, bool]]:
    """Candidate command lines ``(line, text, fenced)``: fenced blocks' lines, then inline
    code spans."""
    for number, line in fenced_lines(text):
        yield number, line, True
    for number, span in code_spans(text):
        yield number, span, False


def _words(line: str) -> list[str]:
    hidden = _PLACEHOLDER.sub(lambda m: _OPEN + m.group(1).replace(" ", _SPACE) + _CLOSE, line)
    lexer = shlex.shlex(hidden, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        words = list(lexer)
    except ValueError:  # an unbalanced quote: prose in backticks, or a cut-off example
        words = hidden.split(" #", 1)[0].split()
    return [word.replace(_OPEN, "<").replace(_CLOSE, ">").replace(_SPACE, " ") for word in words]


def _strip_prefix(words: list[str]) -> list[str]:
    """Drop prompts, ``NAME=value`` assignments and ``uv run [--options]``."""
    while words and (words[0] in {"$", "#"} or _ASSIGNMENT.match(words[0])):
        words = words[1:]
    if words[:2] == ["uv", "run"]:
        words = words[2:]
        while words and words[0].startswith("-"):
            words = words[1:]
    return words


def split(line: str) -> list[list[str]]:
    """The commands one line holds, each as its words (see the module's docstring)."""
    found: list[list[str]] = []
    command: list[str] = []
    skip = False
    for word in [*_words(line), ";"]:
        if skip:
            skip = False
        elif word in _REDIRECTS:
            if command and command[-1].isdigit():  # the 2 of 2>&1
                command.pop()
            skip = True
        elif word not in _SEPARATORS:
            command.append(word)
        else:
            command = _strip_prefix(command)
            if command:
                found.append(command)
            command = []
    return found


def commands(text: str) -> Iterator[Command]:
    """Every shell command in a markdown text, with the line it starts on."""
    for number, line, fenced in command_lines(text):
        for words in split(line):
            yield Command(number, tuple(words), fenced)
