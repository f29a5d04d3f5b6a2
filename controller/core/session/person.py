"""The person at the unit, as the session sees them: told things, asked questions. The
terminal, the panel and answers given in advance each provide this."""

from __future__ import annotations

from typing import Any, Protocol

from controller.planning import questions


class RunnerIO(Protocol):
    """What the runner needs from the person (controller/surfaces/panel/answers.py: terminal,
    panel and answers given in advance). `ask` returns the parsed answer, None when skipped, or
    a Flag."""

    def say(self, line: str) -> None: ...

    async def ask(self, question: questions.Question) -> Any: ...
