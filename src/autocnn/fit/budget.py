"""Durations as users write them: ``30m``, ``90s``, ``1.5h``, ``1h30m`` or plain seconds.

Example:
    >>> parse_duration("1h30m"), parse_duration("90s"), parse_duration(45)
    (5400.0, 90.0, 45.0)
"""

from __future__ import annotations

import math
import re

from autocnn.errors import ConfigError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smh])")


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``; a ConfigError that shows the accepted forms otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            parts = _PART.findall(text)
            if not parts or "".join(n + u for n, u in parts) != text:
                raise ConfigError(
                    f"--time {value!r} is not a duration; write e.g. 30m, 90s, 1.5h or 1h30m"
                ) from None
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"--time must be a positive duration, got {value!r}")
    return seconds
