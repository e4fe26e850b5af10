"""ISO 8601 date strings and timestamps, as AQL's date functions and TTL indexes read them.

Date strings are read as ArangoDB's own parser (``basics::parseDateTime``)
reads them, which is laxer in some places and stricter in others than ISO 8601:

* surrounding whitespace and one leading ``+`` are skipped; a leading ``-`` is invalid;
* the year has 1 to 4 digits (more only as leading zeroes) and is at most 9999;
  ``-M`` and ``-D`` follow optionally, each 1 or 2 digits (month 1-12, day 1-31;
  a day past the month's end rolls over into the next month);
* a time follows ``T`` or a space: ``H:M`` with optional ``:S`` and ``.fraction``
  (1 or 2 digits each; hour <= 23, minute and second <= 59; the fraction may be
  any length, its first three digits are the milliseconds);
* then optionally ``Z``/``z`` or an offset ``+H:M``/``-H:M`` -- the colon is
  required, so ``+0000`` is no offset and the string is no date;
* an offset must not move the moment out of the years 0 to 9999.

Moments are milliseconds since the Unix epoch (UTC), so the documented range
``0000-01-01T00:00:00.000Z`` .. ``9999-12-31T23:59:59.999Z`` is covered whole.
"""

from __future__ import annotations

import re
from typing import Any, Optional

MIN_MS, MAX_MS = -62167219200000, 253402300799999   # the documented valid range
DAY_MS = 86400000

_DIGITS = re.compile(r"[0-9]*")


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
    algorithm, as ArangoDB's date library uses it): linear in ``day``, so a
    day past the month's end rolls over."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524
                   - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    mp = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * mp + 2) // 5 + 1
    month = mp + (3 if mp < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


class _Reader:
    """The rest of a date string, read from the left."""

    def __init__(self, text: str) -> None:
        self.text = text

    def at(self, *chars: str) -> bool:
        return self.text[:1] in chars and self.text != ""

    def skip(self) -> None:
        self.text = self.text[1:]

    def number(self, max_digits: Optional[int] = 2) -> Optional[tuple[int, str]]:
        """(value, digits) of the digits in front, or None when there are
        none or more than ``max_digits``."""
        digits = _DIGITS.match(self.text).group()
        if not digits or (max_digits and len(digits) > max_digits):
            return None
        self.text = self.text[len(digits):]
        return int(digits), digits

    def field(self, low: int, high: int) -> Optional[int]:
        """The value of the (at most two) digits in front when within
        [low, high]; None otherwise."""
        parsed = self.number()
        return parsed[0] if parsed is not None and low <= parsed[0] <= high else None

    def hours_minutes(self) -> Optional[tuple[int, int]]:
        """(hours, minutes) of an ``HH:MM`` in front; None when it is not one."""
        hours = self.field(0, 23)
        if hours is None or not self.at(":"):
            return None
        self.skip()
        minutes = self.field(0, 59)
        return None if minutes is None else (hours, minutes)


def parse_date_string(text: str) -> Optional[int]:
    """Milliseconds since the epoch, or None when ``text`` is no date string
    ArangoDB accepts. Strings without an offset are UTC."""
    text = text.strip(" \t\r\n")
    if text.startswith("-"):
        return None
    reader = _Reader(text[1:] if text.startswith("+") else text)
    year = reader.number(max_digits=None)
    if year is None or year[0] > 9999:
        return None
    month = day = 1
    hour = minute = second = millisecond = offset_minutes = 0
    if reader.at("-"):
        reader.skip()
        month = reader.field(1, 12)
        if month is None:
            return None
        if reader.at("-"):
            reader.skip()
            day = reader.field(1, 31)
            if day is None:
                return None
    if reader.at("T", " "):
        reader.skip()
        clock = reader.hours_minutes()
        if clock is None:
            return None
        hour, minute = clock
        if reader.at(":"):
            reader.skip()
            second = reader.field(0, 59)
            if second is None:
                return None
            if reader.at("."):
                reader.skip()
                parsed = reader.number(max_digits=None)
                if parsed is None:
                    return None
                millisecond = int(parsed[1][:3].ljust(3, "0"))
    if reader.at("Z", "z"):
        reader.skip()
    elif reader.at("+", "-"):
        sign = 1 if reader.text[0] == "+" else -1
        reader.skip()
        offset = reader.hours_minutes()
        if offset is None:
            return None
        offset_minutes = sign * (offset[0] * 60 + offset[1])
    if reader.text:
        return None
    ms = (days_from_civil(year[0], month, day) * DAY_MS + hour * 3600000 + minute * 60000
          + second * 1000 + millisecond - offset_minutes * 60000)
    if offset_minutes and not 0 <= civil_from_days(ms // DAY_MS)[0] <= 9999:
        return None
    return ms


def to_epoch_ms(value: Any) -> Optional[int]:
    """A date from AQL's date arguments: milliseconds since the epoch (cut
    to whole milliseconds) or a date string; None outside the valid range."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            ms = int(value)
        except (OverflowError, ValueError):
            return None
        return ms if MIN_MS <= ms <= MAX_MS else None
    if isinstance(value, str):
        return parse_date_string(value)
    return None


def components_ms(year: int, month: int, day: int = 1, hour: int = 0, minute: int = 0,
                  second: int = 0, millisecond: int = 0) -> Optional[int]:
    """Milliseconds since the epoch of separate date components (UTC), or None
    when a component is out of its range."""
    if not (0 <= year <= 9999 and 1 <= month <= 12 and 1 <= day <= 31 and 0 <= hour <= 23
            and 0 <= minute <= 59 and 0 <= second <= 59 and 0 <= millisecond <= 999):
        return None
    return (days_from_civil(year, month, day) * DAY_MS + hour * 3600000 + minute * 60000
            + second * 1000 + millisecond)


def iso8601(ms: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, as DATE_ISO8601 writes it."""
    days, rest = divmod(ms, DAY_MS)
    year, month, day = civil_from_days(days)
    seconds, millisecond = divmod(rest, 1000)
    return (f"{year:04d}-{month:02d}-{day:02d}T{seconds // 3600:02d}:"
            f"{seconds // 60 % 60:02d}:{seconds % 60:02d}.{millisecond:03d}Z")


def ttl_reference_seconds(value: Any) -> Optional[float]:
    """The point in time a TTL index reads from a document attribute, in seconds
    since the epoch: a number (seconds) or a date string (cut to whole seconds,
    as ArangoDB's TTL index does); anything else never expires."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        ms = parse_date_string(value)
        if ms is None or ms < 0:
            return None
        return float(ms // 1000)
    return None
