"""Settings that follow their file: reload on demand or by modification time, keep the last good."""

from __future__ import annotations

import asyncio
import logging
import os
from itertools import count
from pathlib import Path

import pytest

from _scripted import Scripted
from purecallerid import (
    AsyncScreener,
    ConfigurationError,
    FileSettings,
    InMemoryResultStore,
    Lead,
    ScreeningRecord,
    SettingsError,
)

RULES = '["reject when verdict = \\"bad\\" because \\"bad verdict\\""]'
BROKEN = "[campaigns.demo\n"  # not TOML


def document(verdict: str, *, deadline: int = 15, extra: str = "") -> str:
    """A one-campaign file whose scripted integration answers *verdict*."""
    return f"""
[campaigns.demo]
deadline = {deadline}

[[campaigns.demo.integrations]]
kind = "scripted"
rules = {RULES}
options = {{ verdict = "{verdict}"{extra} }}
"""


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# Each write gets its own modification time: two writes within one tick of the file system's
# coarse clock would otherwise look like one, and the test would depend on the machine's speed.
_STAMPS = count(1_700_000_000_000_000_000, 1_000_000_000)


def write(path: Path, text: str) -> None:
    """Write *text* and give the file a modification time of its own."""
    path.write_text(text)
    stamp = next(_STAMPS)
    os.utime(path, ns=(stamp, stamp))


def screen(provider: FileSettings, *lead_ids: str) -> list[ScreeningRecord]:
    """Screen each lead of campaign ``demo`` in turn with one screener."""

    async def go() -> list[ScreeningRecord]:
        async with AsyncScreener(
            settings=provider, store=InMemoryResultStore(), integrations=[Scripted()]
        ) as screener:
            return [
                await screener.screen(Lead(lead_id=i, campaign_id="demo", fields={}))
                for i in lead_ids
            ]

    return asyncio.run(go())


async def hash_of(provider: FileSettings) -> str:
    campaign = await provider.get_campaign("demo")
    assert campaign is not None
    return campaign.settings_hash


def error_of(provider: FileSettings) -> SettingsError | None:
    """The provider's last error, read afresh (not narrowed by an earlier assert)."""
    return provider.last_error


@pytest.fixture
def path(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    write(path, document("ok"))
    return path


def test_an_edit_decides_the_next_lead(path: Path) -> None:
    """reload() picks up the edit; the next lead is decided by it, under a new settings hash."""
    provider = FileSettings(path, kinds=[Scripted()])
    (before,) = screen(provider, "1")
    assert before.decision == "accept"
    write(path, document("bad"))
    assert provider.reload() is True
    (after,) = screen(provider, "2")
    assert after.decision == "reject"
    assert after.reasons == ("bad verdict",)
    assert after.settings_hash != before.settings_hash
    assert provider.last_error is None


def test_reload_without_a_change_says_so(path: Path) -> None:
    """A file touched but not changed is no new version."""
    provider = FileSettings(path, kinds=[Scripted()])
    write(path, document("ok"))
    assert provider.reload() is False


def test_the_screener_checks_a_new_version_anew(path: Path) -> None:
    """A version that passes the loader but not the integration's own check holds its leads."""

    class Picky(Scripted):
        def check_settings(self, settings: object) -> list[str]:
            options = getattr(settings, "options", {})
            return ["verdict meh is not allowed"] if options.get("verdict") == "meh" else []

    async def go() -> tuple[ScreeningRecord, ScreeningRecord]:
        # The loader checks with the plain kind; the screener's kind is pickier.
        provider = FileSettings(path, kinds=[Scripted()])
        async with AsyncScreener(
            settings=provider, store=InMemoryResultStore(), integrations=[Picky()]
        ) as screener:
            first = await screener.screen(Lead(lead_id="1", campaign_id="demo", fields={}))
            write(path, document("meh"))
            assert provider.reload() is True
            second = await screener.screen(Lead(lead_id="2", campaign_id="demo", fields={}))
        return first, second

    first, second = asyncio.run(go())
    assert first.decision == "accept"
    assert second.decision == "qa"
    assert second.note is not None
    assert "verdict meh is not allowed" in second.note


def test_a_broken_edit_is_refused_logged_and_the_last_good_version_screens(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken file: a WARNING with its problems, last_error set, leads screened as before."""
    provider = FileSettings(path, kinds=[Scripted()])
    good = asyncio.run(hash_of(provider))
    write(path, BROKEN)
    with caplog.at_level(logging.WARNING, logger="purecallerid"):
        assert provider.reload() is False
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "purecallerid.settings"
    assert "last good version stays" in warning.getMessage()
    assert "not valid TOML" in warning.getMessage()
    assert isinstance(provider.last_error, SettingsError)
    (record,) = screen(provider, "1")
    assert record.decision == "accept"
    assert record.settings_hash == good


def test_a_bad_setting_is_refused_with_its_path(
    path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Valid TOML with a bad setting is checked whole, like the first load."""
    provider = FileSettings(path, kinds=[Scripted()])
    write(path, document("ok").replace('kind = "scripted"', 'kind = "scripted"\nsort = "one"'))
    with caplog.at_level(logging.WARNING, logger="purecallerid"):
        assert provider.reload() is False
    assert provider.last_error is not None
    assert [str(p) for p in provider.last_error.problems] == [
        "campaigns.demo.integrations[0].sort: must be a whole number, not 'one'"
    ]
    assert "campaigns.demo.integrations[0].sort" in caplog.text


def test_fixed_again_is_picked_up(path: Path) -> None:
    """After a refused edit, the next good one is swapped in and the error cleared."""
    provider = FileSettings(path, kinds=[Scripted()])
    write(path, BROKEN)
    provider.reload()
    assert error_of(provider) is not None
    write(path, document("bad"))
    assert provider.reload() is True
    assert error_of(provider) is None
    (record,) = screen(provider, "1")
    assert record.decision == "reject"


def test_a_vanished_file_is_a_broken_edit(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A deleted file is refused like a broken edit; its return is picked up."""
    clock = Clock()
    provider = FileSettings(path, kinds=[Scripted()], reload_every=5, clock=clock)
    good = asyncio.run(hash_of(provider))
    path.unlink()
    clock.now += 5
    with caplog.at_level(logging.WARNING, logger="purecallerid"):
        assert asyncio.run(hash_of(provider)) == good
        clock.now += 5  # still gone: refused once, not logged again at every look
        assert asyncio.run(hash_of(provider)) == good
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    assert "cannot read" in caplog.text
    write(path, document("bad"))
    clock.now += 5
    assert asyncio.run(hash_of(provider)) != good
    assert provider.last_error is None


def test_reload_every_honours_the_interval(path: Path) -> None:
    """get_campaign looks at the file at most once per interval, and reads it only if changed."""
    clock = Clock()
    provider = FileSettings(path, kinds=[Scripted()], reload_every=30, clock=clock)
    first = asyncio.run(hash_of(provider))
    write(path, document("bad"))
    clock.now += 29.9
    assert asyncio.run(hash_of(provider)) == first  # too soon to look
    clock.now += 0.1
    second = asyncio.run(hash_of(provider))
    assert second != first
    write(path, document("meh"))
    clock.now += 10
    assert asyncio.run(hash_of(provider)) == second  # the interval counts from the last look
    clock.now += 20
    assert asyncio.run(hash_of(provider)) != second


def test_without_reload_every_the_file_is_read_once(path: Path) -> None:
    """The default: only reload() re-reads."""
    clock = Clock()
    provider = FileSettings(path, kinds=[Scripted()], clock=clock)
    first = asyncio.run(hash_of(provider))
    write(path, document("bad"))
    clock.now += 3600
    assert asyncio.run(hash_of(provider)) == first


def test_a_lead_screened_through_reload_every(path: Path) -> None:
    """The acceptance test: an edit changes the next lead's decision without a restart."""
    clock = Clock()
    provider = FileSettings(path, kinds=[Scripted()], reload_every=0, clock=clock)

    async def go() -> list[ScreeningRecord]:
        records = []
        async with AsyncScreener(
            settings=provider, store=InMemoryResultStore(), integrations=[Scripted()]
        ) as screener:
            for lead_id, text in [("1", None), ("2", document("bad")), ("3", BROKEN)]:
                if text is not None:
                    write(path, text)
                lead = Lead(lead_id=lead_id, campaign_id="demo", fields={})
                records.append(await screener.screen(lead))
        return records

    accepted, rejected, still_rejected = asyncio.run(go())
    assert (accepted.decision, rejected.decision, still_rejected.decision) == (
        "accept",
        "reject",
        "reject",
    )
    assert accepted.settings_hash != rejected.settings_hash == still_rejected.settings_hash
    assert provider.last_error is not None


def test_environment_references_are_expanded_again(path: Path) -> None:
    """${VAR} is looked up at each reload, so a changed variable is a changed version."""
    environ = {"VERDICT": "ok"}
    write(path, document("${VERDICT}"))
    provider = FileSettings(path, kinds=[Scripted()], environ=environ)
    first = asyncio.run(hash_of(provider))
    environ["VERDICT"] = "bad"
    assert provider.reload() is True
    assert asyncio.run(hash_of(provider)) != first


def test_the_first_load_still_raises(tmp_path: Path) -> None:
    """A host does not start without settings."""
    path = tmp_path / "settings.toml"
    write(path, BROKEN)
    with pytest.raises(SettingsError, match="not valid TOML"):
        FileSettings(path, kinds=[Scripted()], reload_every=5)


@pytest.mark.parametrize("value", [-1, float("nan"), float("inf"), True, "5"])
def test_reload_every_is_checked(path: Path, value: object) -> None:
    """A nonsensical interval is a ConfigurationError at construction."""
    with pytest.raises(ConfigurationError, match="reload_every"):
        FileSettings(path, kinds=[Scripted()], reload_every=value)  # type: ignore[arg-type]
