"""Typed resources: the product settings, overridable per deployment."""
import dagster as dg

from auditoryx.settings import Settings


class AuditoryxSettings(dg.ConfigurableResource):
    """Where data lives. Empty fields fall back to the AUDITORYX_* environment (see README)."""

    var_dir: str = ""
    operational_url: str = ""
    as_of: str = ""

    def settings(self) -> Settings:
        overrides = {"var_dir": self.var_dir or None, "operational_url": self.operational_url or None,
                     "as_of": self.as_of or None}
        return Settings(**{key: value for key, value in overrides.items() if value is not None})


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"auditoryx": AuditoryxSettings()})
