"""The public lead form's fields: a name, a Singapore phone number, consent.

The phone number is parsed by ``phonenumbers`` (region SG) and must be a valid Singapore
number of 8 digits starting with 3, 6, 8 or 9; it is stored in E.164 (``+6591234567``).
A failed check gives a message per field and stores nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers

NAME_MAX = 80
PHONE_MAX = 24
# What a person types: digits, spaces, dashes, an optional leading + (with +65 / 65 prefixes).
PHONE_CHARS = re.compile(r"^\+?[0-9][0-9 -]*$")
SG_NATIONAL = re.compile(r"^[3689][0-9]{7}$")

NAME_MISSING = "Enter your name."
NAME_TOO_LONG = f"Your name can have at most {NAME_MAX} characters."
NAME_CONTROL = "Your name contains characters that cannot be used."
PHONE_MISSING = "Enter your phone number."
PHONE_INVALID = (
    "Enter a Singapore phone number: 8 digits starting with 3, 6, 8 or 9, for example 9123 4567."
)
CONSENT_MISSING = "Tick the box to agree to be contacted."


@dataclass(frozen=True, slots=True)
class LeadInput:
    name: str
    phone: str  # E.164


@dataclass(frozen=True, slots=True)
class FormResult:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    lead: LeadInput | None = None


def clean_name(raw: str) -> tuple[str, str | None]:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        return name, NAME_MISSING
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in name):
        return name, NAME_CONTROL
    if len(name) > NAME_MAX:
        return name, NAME_TOO_LONG
    return name, None


def sg_phone(raw: str) -> str | None:
    """The E.164 form of a Singapore number as a person types it, else None."""
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text or len(text) > PHONE_MAX or not PHONE_CHARS.match(text):
        return None
    try:
        number = phonenumbers.parse(text, "SG")
    except phonenumbers.NumberParseException:
        return None
    national = str(number.national_number)
    if number.country_code != 65 or number.italian_leading_zero or not SG_NATIONAL.match(national):
        return None
    if not phonenumbers.is_valid_number_for_region(number, "SG"):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def read(form: Mapping[str, object]) -> FormResult:
    def text(key: str, limit: int) -> str:
        value = form.get(key)
        return value[:limit] if isinstance(value, str) else ""

    name_raw, phone_raw = text("name", 1000), text("phone", 200)
    values = {
        "name": name_raw[:200],
        "phone": phone_raw[: PHONE_MAX * 2],
        "consent": "yes" if form.get("consent") == "yes" else "",
    }
    errors: dict[str, str] = {}
    name, name_error = clean_name(name_raw)
    if name_error:
        errors["name"] = name_error
    phone = sg_phone(phone_raw)
    if phone is None:
        errors["phone"] = PHONE_MISSING if not phone_raw.strip() else PHONE_INVALID
    if values["consent"] != "yes":
        errors["consent"] = CONSENT_MISSING
    if errors or phone is None:
        return FormResult(values, errors)
    return FormResult(values, lead=LeadInput(name, phone))
