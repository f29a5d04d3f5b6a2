"""The person in the loop: answers given in advance (`--answers`, `--pain`, `--yes`), typed at
the terminal, or tapped on the panel, whichever comes first.

Every answer goes through `Question.parse` (controller/planning/questions.py): the same ids, the
same
checks, and a red flag is a red flag wherever it is given. At the terminal `!` raises one and
asks which.
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

from controller.planning.models import RedFlag
from controller.planning.questions import AnswerBook, AnswerError, Flag, Question, show
from controller.planning.red_flags import REPORTABLE, info

_ids = itertools.count(1)
TERMINAL_HINT = {"pain": ", or ! for a red flag", "number": " (Enter to skip)", "yes": " [y/n]",
                 "choice": ""}


@dataclass
class Prompt:
    """A question on screen: what the panel shows and answers by its number."""

    question: Question
    id: int = field(default_factory=lambda: next(_ids))
    future: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop()
                                   .create_future())

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, **self.question.as_dict()}

    def parse(self, value: Any) -> Any:
        return self.question.parse(value)


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
                 auto_yes: bool = False, answers: AnswerBook | None = None):
        self.echo = echo
        self.lines = lines
        self.auto_pain = auto_pain
        self.auto_yes = auto_yes
        self.answers = answers
        self.prompt: Prompt | None = None
        self.committed = False  # a red flag is being given: its question is not cancelled
        self.panel_up = False  # set by the panel once it serves
        self.said: deque[str] = deque(maxlen=200)
        self.on_change: Callable[[str, Any], None] = lambda kind, data: None

    @property
    def unattended(self) -> bool:
        return self.answers is not None or self.auto_pain is not None

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
        fut = p.future
        loop = fut.get_loop()
        if _on(loop):
            _settle(fut, parsed)
        else:  # the panel's thread: the question waits on the control core's loop
            loop.call_soon_threadsafe(_settle, fut, parsed)
        return parsed

    def given(self, q: Question) -> tuple[bool, Any]:
        """An answer given in advance: the answers file first, then the shorthands."""
        if self.answers is not None:
            known, raw = self.answers.get(q.id)
            if known:
                return True, q.parse(raw)
        if self.auto_pain is not None:
            if q.kind == "pain":
                return True, self.auto_pain
            if q.kind == "choice" and q.id.endswith("pain_since_last"):
                return True, "settled" if self.auto_pain <= 3 else "raised"
        if q.kind == "yes" and self.auto_yes and not q.skippable:
            return True, True
        if q.skippable and self.unattended:
            return True, None
        return False, None

    async def ask(self, q: Question) -> Any:
        known, value = self.given(q)
        if known:
            self.say(f"{q.text}: {show(value)}")
            return value
        return await self._ask(Prompt(q))

    async def _ask(self, prompt: Prompt) -> Any:
        q = prompt.question
        self.prompt = prompt
        self.on_change("prompt", prompt.as_dict())
        if self.echo is not None:
            if q.help and self.lines is not None:
                self.echo("  " + q.help)
            if q.kind == "choice":
                self.echo(q.text + " " + ", ".join(f"{v} ({t})" for v, t in q.choices)
                          + ", or ! for a red flag")
            else:
                self.echo(q.text + TERMINAL_HINT[q.kind]
                          + (" (or answer on the panel)" if self.panel_up and self.lines else ""))
        line_task: asyncio.Future | None = None
        try:
            while True:
                waits: set[asyncio.Future] = {prompt.future}
                if self.lines is not None:
                    if line_task is None:
                        line_task = asyncio.ensure_future(self.lines.queue.get())
                    waits.add(line_task)
                elif not self.panel_up:
                    raise click.ClickException(f"no answer to {q.id!r} (no terminal input and "
                                               "no panel): give it in --answers")
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if prompt.future in done:
                    return prompt.future.result()
                assert line_task is not None
                line, line_task = line_task.result(), None
                if line is None:  # the terminal is gone: the panel answers, if there is one
                    self.lines = None
                    continue
                if line.strip() and set(line.strip()) == {"!"}:
                    return await self._which_flag()
                try:
                    return prompt.parse(line)
                except AnswerError as e:
                    self.say(f"  {e.reason}: please answer {e.allowed.split(', or red_flag')[0]}"
                             ", or ! for a red flag")
        finally:
            if line_task is not None:
                line_task.cancel()
            self.committed = False
            self.prompt = None
            self.on_change("prompt", None)

    async def _which_flag(self) -> Flag:
        """At the terminal, after `!`: which red flag, by number or name (Enter if unsure:
        'other'). The flag stands from the `!` on: nothing cancels it (`committed`)."""
        self.committed = True
        kinds = [k for k in REPORTABLE if k != RedFlag.OTHER]
        self.say("RED FLAG. Which is it? (a number; Enter if unsure)")
        for i, k in enumerate(kinds, 1):
            self.say(f"  {i:>2}  {info(k).label}")
        for _ in range(3):
            line = None
            if self.lines is not None:
                with contextlib.suppress(TimeoutError):
                    line = await asyncio.wait_for(self.lines.queue.get(), 120)
            choice = "_".join((line or "").strip().lower().split())
            if not choice:
                break
            if choice.isascii() and choice.isdigit() and 1 <= int(choice) <= len(kinds):
                return Flag(kinds[int(choice) - 1])
            if choice in {k.value for k in kinds}:
                return Flag(RedFlag(choice))
            self.say(f"  {line!r} is not on the list: a number from 1 to {len(kinds)}, or "
                     "Enter if unsure")
        return Flag(RedFlag.OTHER)

    def close(self) -> None:
        if self.prompt is not None and not self.prompt.future.done():
            fut = self.prompt.future
            if _on(fut.get_loop()):
                with contextlib.suppress(asyncio.InvalidStateError):
                    fut.cancel()
            else:
                fut.get_loop().call_soon_threadsafe(fut.cancel)


def _on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _settle(fut: asyncio.Future, value: Any) -> None:
    if not fut.done():
        fut.set_result(value)
