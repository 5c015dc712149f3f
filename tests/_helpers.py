"""Helpers shared by the client tests: run one screening through either client."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from purecallerid import ScreeningRequest, ScreeningResponse
from purecallerid.testing import FakePureCallerID

TOKEN = "tok-SECRET-5f1e2d"

Screen = Callable[..., ScreeningResponse]


def request_for(phone: str, dialect: str = "leadexec", **fields: Any) -> ScreeningRequest:
    """A request carrying what *dialect* requires."""
    ids: dict[str, Any] = {"campaign_id": "camp-1", "list_name": "Main list"}
    if dialect == "public":
        ids["dialer_list_id"] = "42"
    return ScreeningRequest(phone=phone, zip="02134", **{**ids, **fields})


def make_screen(fake: FakePureCallerID, mode: str) -> Screen:
    """A function screening one request through a fresh sync or async client."""

    def screen(
        request: ScreeningRequest, *, deadline: float | None = None, **options: Any
    ) -> ScreeningResponse:
        options.setdefault("api_token", TOKEN)
        if mode == "sync":
            with fake.client(**options) as client:
                return client.screen(request, deadline=deadline)

        async def run() -> ScreeningResponse:
            async with fake.async_client(**options) as client:
                return await client.screen(request, deadline=deadline)

        return asyncio.run(run())

    return screen


def pcid_settings_file(folder: Path, base_url: str, token: str, campaign: str = "bulk") -> Path:
    """A settings file: one campaign, PureCallerID at *base_url*, the DNC rule."""
    path = folder / "settings.toml"
    path.write_text(
        f"""
[campaigns.{campaign}]
[[campaigns.{campaign}.integrations]]
id = "pcid"
kind = "purecallerid"
base_url = "{base_url}"
credentials = {{ api_token = "{token}", campaign_id = "C1", list_name = "Main" }}
rules = ['dnc: reject when status = "Rejected" and reason = "DNC"']
"""
    )
    return path
