"""What a ``screen`` run is about to do, printed before its first call.

Without it, a run whose settings fell back to a default URL (``${PURECALLERID_BASE_URL:-...}``
with the variable unset) sent its leads to whatever listened there, and nothing on screen said
which endpoint, campaign or database it used. The plan names each of them, marks an endpoint
on this machine (a loopback host, or the demo's simulator) as not the real vendor, and bounds
the vendor calls the run may make.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._http.integration import HttpIntegration
from .records import shown

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from .._settings import CampaignSettings, IntegrationSettings
    from ..typing import Integration

__all__ = ["endpoints", "is_local", "plan_lines"]


def is_local(url: str) -> bool:
    """Whether *url*'s host is this machine (``localhost`` or a loopback address)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(settings: IntegrationSettings, kinds: Iterable[Integration]) -> str | None:
    """The base URL an integration calls, or ``None`` for one that calls no vendor."""
    for kind in kinds:
        if kind.kind == settings.kind and isinstance(kind, HttpIntegration):
            return kind.base_url_of(settings) or None
    return None


def endpoints(
    campaign: CampaignSettings, kinds: Iterable[Integration]
) -> dict[str, tuple[str, str | None]]:
    """Integration id -> (kind, the base URL it calls or ``None``), in sort order."""
    ordered = sorted(campaign.integrations, key=lambda i: i.sort)
    return {i.id: (i.kind, _url(i, kinds)) for i in ordered}


def _mark(url: str, simulator: str | None) -> str:
    if simulator is not None and url.startswith(simulator):
        return " (this run's simulator)"
    if is_local(url):
        return " (local, not the vendor)"
    return ""


def plan_lines(
    *,
    campaign: CampaignSettings,
    kinds: Sequence[Integration],
    settings: Path,
    rows: int,
    db: Path | str,
    mode: str,
    simulator: str | None = None,
) -> list[str]:
    """The plan, one line each: campaign and rows, the call bound, each integration, records.

    Args:
        campaign: The campaign's settings.
        kinds: The integrations the settings were loaded with.
        settings: The settings file.
        rows: Data rows in the leads file.
        db: The records database.
        mode: What happens to leads already recorded (a few words).
        simulator: The URL of a simulator this run started, if any.
    """
    found = endpoints(campaign, kinds)
    enabled = {i.id for i in campaign.integrations if i.enabled}
    shadows = {i.id for i in campaign.integrations if i.shadow}
    callers = [i for i, (_, url) in found.items() if url is not None and i in enabled]
    lines = [
        f"plan: campaign {campaign.campaign_id} of {settings}, {rows:,} rows",
        f"  at most {rows * len(callers):,} vendor calls (one per lead and vendor; retries aside)",
    ]
    for integration_id, (kind, url) in found.items():
        where = "calls no vendor" if url is None else url + _mark(url, simulator)
        off = " (disabled)" if integration_id not in enabled else ""
        off += " (shadow)" if integration_id in shadows else ""
        lines.append(f"  {integration_id} ({kind}){off}: {where}")
    lines.append(f"  records: {shown(db)}; {mode}")
    return lines
