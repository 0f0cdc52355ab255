"""A posted form's fields, read for a page: every problem is a :class:`ConfigError` whose text
the page shows beside the form (never a 422 in JSON), and an empty field is "not given"."""

from __future__ import annotations

from starlette.datastructures import FormData

from config.durations import parse_duration
from config.errors import ConfigError


class Fields:
    def __init__(self, form: FormData) -> None:
        self.form = form

    def text(self, name: str, label: str, max_len: int = 200) -> str:
        """The field trimmed ("" when absent)."""
        value = self.form.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if len(text) > max_len:
            raise ConfigError(f"{label}: at most {max_len} characters")
        return text

    def required(self, name: str, label: str, max_len: int = 200) -> str:
        text = self.text(name, label, max_len)
        if not text:
            raise ConfigError(f"{label}: required")
        return text

    def texts(self, name: str, label: str, max_len: int = 200, most: int = 5000) -> list[str]:
        """Every non-empty value of a repeated field (checkboxes, a multiple select)."""
        values = [v.strip() for v in self.form.getlist(name) if isinstance(v, str)]
        if len(values) > most:
            raise ConfigError(f"{label}: at most {most}")
        if any(len(v) > max_len for v in values):
            raise ConfigError(f"{label}: at most {max_len} characters each")
        return [v for v in values if v]

    def integer(self, name: str, label: str, low: int, high: int, default: int) -> int:
        text = self.text(name, label, 12)
        if not text:
            return default
        try:
            number = int(text)
        except ValueError:
            raise ConfigError(f"{label}: a whole number from {low} to {high}") from None
        if not low <= number <= high:
            raise ConfigError(f"{label}: a whole number from {low} to {high}")
        return number

    def duration(self, name: str, label: str, default: int | None, most_s: int) -> int | None:
        """Seconds, written like 30s, 5m, 2h or 1h30m; ``default`` when empty."""
        text = self.text(name, label, 16)
        if not text:
            return default
        try:
            seconds = parse_duration(text)
        except ConfigError as exc:
            raise ConfigError(f"{label}: {exc}") from None
        if seconds > most_s:
            raise ConfigError(f"{label}: at most {most_s // 3600} hours")
        return seconds
