"""SQL fragments the named queries share, written once in the SQL both engines run."""
from __future__ import annotations

from datetime import datetime, timedelta

from ..models import AGE_BANDS
from ..workflow import CLAIM_MINUTES


def seconds_between(later: str, earlier: str) -> str:
    """Seconds from `earlier` to `later` (timestamps), as a DOUBLE."""
    return f"CAST(extract(epoch FROM ({later} - {earlier})) AS DOUBLE PRECISION)"


def hours_between(later: str, earlier: str) -> str:
    return f"({seconds_between(later, earlier)} / 3600.0)"


def plus_seconds(ts: str, seconds: str) -> str:
    """A timestamp plus a number of seconds (a DOUBLE expression)."""
    return f"({ts} + ({seconds}) * INTERVAL '1 second')"


def age_band(hours: str) -> str:
    """The Overview's age band of an age in hours."""
    return (f"CASE WHEN {hours} < 4 THEN '{AGE_BANDS[0]}' WHEN {hours} < 24 THEN '{AGE_BANDS[1]}' "
            f"WHEN {hours} < 72 THEN '{AGE_BANDS[2]}' WHEN {hours} < 168 THEN '{AGE_BANDS[3]}' "
            f"ELSE '{AGE_BANDS[4]}' END")


def claim_cutoff(now: datetime) -> datetime:
    """A claim taken after this moment is still live at `now` (the $claimed_after parameter)."""
    return now - timedelta(minutes=CLAIM_MINUTES)


def claimed_by(alias: str = "c") -> str:
    """Who holds a live claim on the case (needs the $claimed_after parameter)."""
    return f"CASE WHEN {alias}.claimed_at > $claimed_after THEN {alias}.assignee END"


OPEN = "state <> 'resolved'"
