"""A scripted integration for orchestrator tests: answers come from its settings' options."""

from __future__ import annotations

import asyncio
from typing import Any

from purecallerid import (
    APIConnectionError,
    FieldRegistry,
    FieldSpec,
    FieldType,
    IntegrationSettings,
    Lead,
    RuleSet,
)
from purecallerid.typing import IntegrationAnswer

SCRIPTED_FIELDS = FieldRegistry(
    integration="scripted",
    fields=(FieldSpec(name="verdict", type=FieldType.STRING, values=("ok", "bad", "meh")),),
)
SCRIPTED_RULES = RuleSet.from_text(
    'reject when verdict = "bad" because "bad verdict"\nflag when verdict = "meh" because "meh"',
    SCRIPTED_FIELDS,
)


class Scripted:
    """Answers ``options["verdict"]`` after ``options["latency"]`` seconds, or fails.

    ``options["turns"]``: event-loop turns to yield before answering; unlike a latency in
    seconds it orders the parts of a stage the same way on a loaded machine as on an idle one,
    so two runs of one campaign can be compared.

    ``options["fail"]``: ``"error"`` raises an APIConnectionError, ``"bug"`` a RuntimeError.
    Every call is logged in :attr:`calls` (integration ids, in start order).
    """

    kind = "scripted"
    fields = SCRIPTED_FIELDS

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.finished: list[str] = []
        self.closed = False

    def check_settings(self, settings: IntegrationSettings) -> list[str]:
        return [] if "verdict" in settings.options or "fail" in settings.options else ["no verdict"]

    async def screen(
        self, lead: Lead, settings: IntegrationSettings, *, deadline: float
    ) -> IntegrationAnswer:
        self.calls.append(settings.id)
        options: dict[str, Any] = dict(settings.options)
        await asyncio.sleep(float(options.get("latency", 0.0)))
        for _ in range(int(options.get("turns", 0))):
            await asyncio.sleep(0)
        if options.get("fail") == "error":
            raise APIConnectionError("scripted failure", outcome_unknown=False)
        if options.get("fail") == "bug":
            raise RuntimeError("a bug in host code")
        self.finished.append(settings.id)
        return IntegrationAnswer(
            answer={"verdict": options["verdict"]}, raw=str(options["verdict"])
        )

    async def aclose(self) -> None:
        self.closed = True


def scripted(
    integration_id: str,
    verdict: str = "ok",
    *,
    sort: int = 1,
    latency: float = 0.0,
    turns: int = 0,
    fail: str | None = None,
    **settings: Any,
) -> IntegrationSettings:
    """Settings for one scripted integration."""
    options: dict[str, Any] = {"verdict": verdict, "latency": latency, "turns": turns}
    if fail is not None:
        options["fail"] = fail
    settings.setdefault("options", options)
    return IntegrationSettings(
        id=integration_id, kind="scripted", sort=sort, rules=SCRIPTED_RULES, **settings
    )
