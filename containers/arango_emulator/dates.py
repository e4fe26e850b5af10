"""ISO 8601 date strings and timestamps, as AQL's date functions and TTL indexes read them."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

_DATE = re.compile(
    r"(?P<y>[+-]?\d{4,6})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?)?"
    r"(?P<tz>Z|z|[+-]\d{2}:?\d{2})?")

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_date_string(text: str) -> Optional[datetime]:
    """A UTC datetime, or None when ``text`` is no date string AQL accepts.
    Strings without an offset are UTC."""
    match = _DATE.fullmatch(text.strip())
    if not match:
        return None
    g = match.groupdict()
    try:
        moment = datetime(int(g["y"]), int(g["m"]), int(g["d"]), int(g["H"] or 0),
                          int(g["M"] or 0), int(g["S"] or 0),
                          int((g["f"] or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
    except ValueError:
        return None
    tz = g["tz"]
    if tz and tz not in "Zz":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def epoch_ms(moment: datetime) -> int:
    return int(round((moment - EPOCH) / timedelta(milliseconds=1)))


def to_moment(value: Any) -> Optional[datetime]:
    """A date from AQL's date arguments: milliseconds since the epoch or a date string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        try:
            return EPOCH + timedelta(milliseconds=value)
        except OverflowError:
            return None
    if isinstance(value, str):
        return parse_date_string(value)
    return None


def iso8601(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ``, as DATE_ISO8601 writes it."""
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def ttl_reference_seconds(value: Any) -> Optional[float]:
    """The point in time a TTL index reads from a document attribute, in seconds
    since the epoch: a number (seconds) or a date string; anything else never expires."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value) if value >= 0 else None
    if isinstance(value, str):
        moment = parse_date_string(value)
        return None if moment is None else (moment - EPOCH).total_seconds()
    return None
