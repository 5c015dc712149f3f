"""Records read from synchronous code, shown masked; testing helpers and settings messages."""

from __future__ import annotations

import json

import pytest

from purecallerid import (
    CampaignSettings,
    Credentials,
    InMemoryResultStore,
    InMemorySettings,
    IntegrationSettings,
    Lead,
    PureCallerIDIntegration,
    Screener,
    SettingsError,
    SQLiteResultStore,
    load_settings,
    purecallerid_preset,
)
from purecallerid.testing import CannedAnswer, FakePureCallerID

TOKEN = "tok-SYNC-READS-99"


def campaign() -> CampaignSettings:
    return CampaignSettings(
        campaign_id="solar",
        integrations=[
            IntegrationSettings(
                id="pcid",
                kind="purecallerid",
                base_url="https://p.test",
                credentials=Credentials(api_token=TOKEN, campaign_id="C", list_name="L"),
                rules=purecallerid_preset(),
            )
        ],
    )


def test_a_sync_host_reads_records_without_asyncio(tmp_path: object) -> None:
    """Screener.load and Screener.history: what a Flask route calls, no event loop in sight."""
    fake = FakePureCallerID(api_token=TOKEN)
    pcid = PureCallerIDIntegration(transport=fake.async_transport())
    store = SQLiteResultStore(":memory:")
    lead = Lead(lead_id="L1", campaign_id="solar", fields={"phone": "212-555-0102", "zip": "02134"})
    with Screener(settings=InMemorySettings([campaign()]), store=store, integrations=[pcid]) as s:
        first = s.screen(lead)
        again = s.screen(lead, force=True)
        assert s.load("L1", "solar") == again
        assert s.load("L1", "other") is None
        assert [r.version for r in s.history("L1", "solar")] == [first.version, 2]
    store.close()


def test_a_store_without_history_says_so() -> None:
    """history() on a store that keeps none is a TypeError naming the protocol."""

    class LatestOnly(InMemoryResultStore):
        history = None  # type: ignore[assignment]
        find = None  # type: ignore[assignment]

    fake = FakePureCallerID(api_token=TOKEN)
    pcid = PureCallerIDIntegration(transport=fake.async_transport())
    settings = InMemorySettings([campaign()])
    with (
        Screener(settings=settings, store=LatestOnly(), integrations=[pcid]) as s,
        pytest.raises(TypeError, match="RecordHistory"),
    ):
        s.history("L1", "solar")


def test_the_public_form_of_a_record_masks_every_phone() -> None:
    """to_public_dict: the phone masked wherever it stands (request, raw, answer), no token."""
    fake = FakePureCallerID(api_token=TOKEN)
    fake.program("2125550147", CannedAnswer.accepted(echo="call (212) 555-0147", number=2125550147))
    pcid = PureCallerIDIntegration(transport=fake.async_transport())
    lead = Lead(lead_id="L1", campaign_id="solar", fields={"phone": "212-555-0147", "zip": "02134"})
    with Screener(
        settings=InMemorySettings([campaign()]), store=InMemoryResultStore(), integrations=[pcid]
    ) as s:
        record = s.screen(lead)
    shown = json.dumps(record.to_public_dict())
    digits = "".join(ch if ch.isdigit() else " " for ch in shown)
    assert all(len(run) < 7 for run in digits.split() if "5550147" in run or run.endswith("0147"))
    assert "2125550147" not in shown
    assert "***0147" in shown
    assert TOKEN not in shown
    assert record.to_public_dict()["lead_id"] == "L1"


@pytest.mark.parametrize(
    ("body", "sent"),
    [(b"\x00raw bytes", b"\x00raw bytes"), ("plain text", b"plain text"),
     ({"error": "x"}, b'{"error": "x"}')],
)  # fmt: skip
def test_canned_status_answers_take_bytes_text_or_json(body: object, sent: bytes) -> None:
    """CannedAnswer.status(body=...) sends bytes as they are, text as UTF-8, else JSON."""
    answer = CannedAnswer.status(502, body=body, retry_after="1")
    assert (answer.status_code, answer.body) == (502, sent)
    assert answer.headers["Retry-After"] == "1"


def test_a_rule_set_object_in_a_settings_document_is_named() -> None:
    """A RuleSet object where a document wants data: the error says what was passed."""
    pcid = PureCallerIDIntegration()
    document = {
        "campaigns": {
            "c": {
                "integrations": [
                    {
                        "kind": "purecallerid",
                        "base_url": "https://p.test",
                        "credentials": {"api_token": TOKEN, "campaign_id": "C", "list_name": "L"},
                        "rules": purecallerid_preset(),
                    }
                ]
            }
        }
    }
    with pytest.raises(SettingsError, match="a RuleSet object; pass its text"):
        load_settings(document, kinds=[pcid])
