"""The person in the loop, at the terminal and on the panel (whichever answers first).

The session runner asks (pain, a number, yes/no); a question becomes a prompt the panel shows
and answers over HTTP. When a terminal is attached its lines answer too, so nobody is stuck
without a browser. Answers are validated here: a bad one is refused with what is allowed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from controller.session import RED_FLAG

_ids = itertools.count(1)
TERMINAL_HINT = {"pain": ", or ! for a red flag", "number": " (Enter to skip)", "yes": " [y/n]"}
TERMINAL_HELP = {
    "pain": "  please answer with a whole number from 0 to 10, or ! for a red flag (snap or "
            "tearing, new loss of function, chest pain, breathlessness, fainting)",
    "number": "  please answer with a whole number from {lo} to {hi}, or Enter to skip",
    "yes": "  please answer y or n",
}


class AnswerError(ValueError):
    def __init__(self, reason: str, allowed: str):
        super().__init__(reason)
        self.reason, self.allowed = reason, allowed


@dataclass
class Prompt:
    kind: str  # pain | number | yes
    question: str
    lo: int = 0
    hi: int = 10
    id: int = field(default_factory=lambda: next(_ids))
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop()
                                   .create_future())

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "question": self.question, "lo": self.lo,
                "hi": self.hi}

    def parse(self, value: Any) -> Any:
        """A panel's answer (JSON value) or a terminal's line (str), checked."""
        if self.kind == "yes":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower()[:1] in ("y", "n"):
                return value.strip().lower().startswith("y")
            raise AnswerError(f"{value!r} is not yes or no", "true or false")
        if self.kind == "pain" and value in (RED_FLAG, "!"):
            return RED_FLAG
        if self.kind == "number" and value in (None, ""):
            return None  # skipped
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or \
                not self.lo <= value <= self.hi:
            extra = ', or "red_flag"' if self.kind == "pain" else \
                ", or nothing to skip" if self.kind == "number" else ""
            raise AnswerError(f"{value!r} is not a whole number from {self.lo} to {self.hi}",
                              f"a whole number from {self.lo} to {self.hi}{extra}")
        return value


class StdinLines:
    """Lines typed on the terminal, read by one thread for the whole run."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:
            for line in sys.stdin:
                loop.call_soon_threadsafe(self.queue.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(self.queue.put_nowait, None)

        threading.Thread(target=read, daemon=True, name="stdin-lines").start()


class PersonIO:
    def __init__(self, echo: Callable[[str], None] | None = None,
                 lines: StdinLines | None = None, auto_pain: int | None = None,
                 auto_yes: bool = False):
        self.echo = echo
        self.lines = lines
        self.auto_pain = auto_pain
        self.auto_yes = auto_yes
        self.prompt: Prompt | None = None
        self.panel_up = False  # set by the panel once it serves
        self.said: deque[str] = deque(maxlen=200)
        self.on_change: Callable[[str, Any], None] = lambda kind, data: None

    def say(self, line: str) -> None:
        self.said.append(line)
        if self.echo is not None:
            self.echo(line)
        self.on_change("say", line)

    def answer(self, prompt_id: int, value: Any) -> Any:
        """From the panel: the answer to the prompt on screen, or AnswerError."""
        p = self.prompt
        if p is None or p.id != prompt_id:
            raise AnswerError("that question is no longer asked", "an answer to the current "
                              "question (see /api/state)")
        parsed = p.parse(value)
        if not p.future.done():
            p.future.set_result(parsed)
        return parsed

    async def _ask(self, prompt: Prompt) -> Any:
        self.prompt = prompt
        self.on_change("prompt", prompt.as_dict())
        if self.echo is not None:
            self.echo(prompt.question + TERMINAL_HINT[prompt.kind]
                      + (" (or answer on the panel)" if self.panel_up and self.lines else ""))
        try:
            while True:
                waits = {prompt.future}
                line_task = None
                if self.lines is not None:
                    line_task = asyncio.ensure_future(self.lines.queue.get())
                    waits.add(line_task)
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if prompt.future in done:
                    if line_task is not None:
                        line_task.cancel()
                    return prompt.future.result()
                assert line_task is not None
                line = line_task.result()
                if line is None:  # the terminal is gone: the panel answers, if there is one
                    self.lines = None
                    if not self.panel_up:
                        raise click.ClickException("no answer (end of input): session stopped")
                    continue
                try:
                    return prompt.parse(line)
                except AnswerError:
                    self.say(TERMINAL_HELP[prompt.kind].format(lo=prompt.lo, hi=prompt.hi))
        finally:
            self.prompt = None
            self.on_change("prompt", None)

    async def ask_pain(self, question: str) -> int | str:
        if self.auto_pain is not None:
            self.say(f"{question}: {self.auto_pain}")
            return self.auto_pain
        return await self._ask(Prompt("pain", question))

    async def ask_number(self, question: str, lo: int, hi: int) -> int | None:
        if self.auto_pain is not None:
            return None
        return await self._ask(Prompt("number", question, lo, hi))

    async def ask_yes(self, question: str) -> bool:
        if self.auto_yes or self.auto_pain is not None:
            self.say(f"{question}: yes")
            return True
        return await self._ask(Prompt("yes", question))

    def close(self) -> None:
        if self.prompt is not None and not self.prompt.future.done():
            with contextlib.suppress(asyncio.InvalidStateError):
                self.prompt.future.cancel()
