"""The platform's one error hierarchy: bad input, a failed gate, or (anything else) a bug.

``BadInputError``: the data or a setting is unusable; the message says what and where, and the
user fixes the input. ``GateError``: the inputs were fine but a result did not pass a quality or
regression gate, so nothing was promoted. Any other exception is a defect of the platform.
Failure callbacks and users tell the three apart by class (``error_kind``).
"""

from __future__ import annotations


class PlatformError(Exception):
    """Base of the errors the platform raises on purpose."""


class BadInputError(PlatformError, ValueError):
    """Input data or a setting is unusable; the message names what is wrong and where."""


class GateError(PlatformError, RuntimeError):
    """A result failed a gate (quality, finiteness, regression): nothing was promoted."""


class CredentialsError(BadInputError):
    """Credentials for an external source are missing or rejected."""


def error_kind(exc: BaseException) -> str:
    """``bad_input``, ``gate`` or ``bug``: what kind of failure ``exc`` is (or the error it was raised from,
    as when a task turns a BadInputError into Airflow's no-retry failure)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, BadInputError):
            return "bad_input"
        if isinstance(cause, GateError):
            return "gate"
        cause = cause.__cause__
    return "bug"


def require_finite(where: str, **values: float | None) -> None:
    """GateError naming every value that is NaN or infinite: such a score may never pass a gate or win a
    comparison (``nan < threshold`` is False, so an unchecked NaN slips through). None means absent."""
    import math

    bad = {k: v for k, v in values.items() if v is not None and not math.isfinite(float(v))}
    if bad:
        raise GateError(f"{where}: non-finite {', '.join(f'{k}={v}' for k, v in bad.items())}; nothing promoted")
