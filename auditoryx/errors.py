"""Errors meant for users: the CLI prints them as one line."""


class AuditoryxError(Exception):
    """A problem the user can act on (bad input, missing data, wrong configuration)."""
