"""Errors meant for users: the CLI prints them as one line."""


class AuditoryxError(Exception):
    """A problem the user can act on (bad input, missing data, wrong configuration)."""


class SettingsError(AuditoryxError):
    """An ``AUDITORYX_*`` variable has a value that cannot be used; the message names each
    variable and its value, e.g. ``AUDITORYX_AS_OF='2026-13-45': not a date (YYYY-MM-DD)``."""


class NotInitialized(AuditoryxError):
    """The operational database (or the build database) does not exist or has no schema yet."""
