"""The panel's address as phones and tablets reach it: ``FLEETHUB_PUBLIC_BASE_URL`` when
set, else the address this request came to, which a phone cannot open when it is loopback
(127.0.0.1, localhost): the pages that print QR codes and pairing steps warn then."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request

from config.settings import Settings

SETTING = "FLEETHUB_PUBLIC_BASE_URL"


@dataclass(frozen=True, slots=True)
class PublicAddress:
    url: str  # no trailing slash
    configured: bool  # from the setting, not guessed from the request

    @property
    def loopback(self) -> bool:
        """Only this machine can open it: a QR code of it is useless to a phone."""
        if self.configured:
            return False
        host = urlsplit(self.url).hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False


def public_address(request: Request, settings: Settings) -> PublicAddress:
    if settings.public_base_url:
        return PublicAddress(settings.public_base_url.rstrip("/"), configured=True)
    return PublicAddress(str(request.base_url).rstrip("/"), configured=False)
