"""One settings object for the whole product, read from ``AUDITORYX_*`` environment variables.

Nothing is read at import: call :func:`get_settings` where the value is needed.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from auditoryx.errors import SettingsError

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


class Settings(BaseSettings):
    # an empty variable (AUDITORYX_WAREHOUSE_DIR=) counts as unset: never "the current folder"
    model_config = SettingsConfigDict(env_prefix="AUDITORYX_", extra="ignore", env_ignore_empty=True)

    var_dir: Path = Field(default=Path("var"), description="Where all local data lives.")
    operational_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the operational database; default a SQLite file under var/.",
    )
    app_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL the web tier (dashboards, later the API) uses for the operational "
        "database; on PostgreSQL a login role that is a member of auditoryx_app (row-level security "
        "applies). Default: the operational URL.",
    )
    session_idle_minutes: float = Field(default=30, gt=0, description="A login session ends after this long idle.")
    session_max_hours: float = Field(default=12, gt=0, description="A login session ends this long after sign-in.")
    base_domain: str | None = Field(
        default=None,
        description="Tenants are also reached at <slug>.<base domain> (login page branding).",
    )
    refresh_on_write: str = Field(
        default="worker", pattern="^(worker|direct|sensor|off)$",
        description="After a booking is written: 'worker' asks the refresh worker (`auditoryx worker`, "
        "started by `auditoryx serve`; falls back to 'direct' when none is alive); 'direct' starts "
        "`auditoryx refresh --tenant` in the background; 'sensor' leaves it to Dagster's "
        "operational_change_sensor; 'off' waits for the next scheduled refresh.",
    )
    api_token_secret: str | None = Field(
        default=None, min_length=32,
        description="Signs people's short-lived API tokens (at least 32 characters; the same in every API "
        "process). Default: a random secret generated once into var/api_token_secret.",
    )
    api_token_minutes: float = Field(default=15, gt=0, le=60, description="Lifetime of a person's API token.")
    warehouse_dir: Path | None = Field(default=None, description="Default var/warehouse.")
    as_of: dt.date | None = Field(default=None, description="As-of date D; default today (UTC).")
    publish_grace_seconds: int = Field(
        default=300, description="Non-current snapshot versions older than this are removed."
    )
    demo_password: str = Field(default="auditoryx-demo", description="Password of generated users.")
    dbt_threads: int = Field(default=2)
    freshness_hours: float = Field(default=26, description="A snapshot older than this fails the freshness check.")
    landing_dir: Path | None = Field(default=None, description="File drops; default var/landing.")
    archive_dir: Path | None = Field(default=None, description="Processed file drops; default var/archive.")
    exports_dir: Path | None = Field(default=None, description="Report exports; default var/exports.")
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server that sends e-mails of the outbox (scheduled reports); unset: e-mails wait "
        "in the outbox until it is set.",
    )
    smtp_port: int = Field(default=587, gt=0, lt=65536, description="SMTP server port.")
    smtp_username: str | None = Field(default=None, description="SMTP login (none: no authentication).")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_from: str = Field(default="AuditoryX Reports <reports@localhost>",
                           description="The From address of e-mails sent.")
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_timeout_seconds: float = Field(default=30, gt=0, description="SMTP connection and command time-out.")
    webhook_timeout_seconds: float = Field(default=10, gt=0,
                                           description="A webhook receiver must answer within this.")
    webhook_allow_local_http: bool = Field(
        default=False,
        description="Accept http:// webhook URLs on localhost/127.0.0.1 and private addresses (tests and "
        "development only; otherwise https to a public host is required).",
    )

    @property
    def resolved_var_dir(self) -> Path:
        return self.var_dir.resolve()

    @property
    def operational_database_url(self) -> str:
        if self.operational_url:
            return self.operational_url
        return f"sqlite:///{self.resolved_var_dir / 'operational.sqlite'}"

    @property
    def web_database_url(self) -> str:
        """The web tier's operational database URL (a row-level-security role on PostgreSQL)."""
        return self.app_database_url or self.operational_database_url

    @property
    def resolved_warehouse_dir(self) -> Path:
        return (self.warehouse_dir or self.resolved_var_dir / "warehouse").resolve()

    @property
    def build_database_path(self) -> Path:
        return self.resolved_warehouse_dir / "build.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.resolved_warehouse_dir / "published"

    @property
    def dbt_work_dir(self) -> Path:
        """dbt target/log folders: never inside the repository."""
        return self.resolved_var_dir / "dbt"

    @property
    def resolved_landing_dir(self) -> Path:
        return (self.landing_dir or self.resolved_var_dir / "landing").resolve()

    @property
    def resolved_exports_dir(self) -> Path:
        return (self.exports_dir or self.resolved_var_dir / "exports").resolve()

    @property
    def resolved_archive_dir(self) -> Path:
        return (self.archive_dir or self.resolved_var_dir / "archive").resolve()

    def effective_as_of(self) -> dt.date:
        return self.as_of or dt.datetime.now(dt.timezone.utc).date()


_PROBLEMS = {  # pydantic error type → what the value is not
    "date_parsing": "not a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "not a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "not a date (YYYY-MM-DD)",
    "date_type": "not a date (YYYY-MM-DD)",
    "int_parsing": "not a whole number",
    "int_from_float": "not a whole number",
    "int_type": "not a whole number",
    "float_parsing": "not a number",
    "float_type": "not a number",
    "path_type": "not a path",
}


def _problem(error: dict) -> str:
    if error["type"] in _PROBLEMS:
        return _PROBLEMS[error["type"]]
    if error["type"] == "string_pattern_mismatch":
        pattern = str(error.get("ctx", {}).get("pattern", ""))
        if pattern.startswith("^(") and pattern.endswith(")$"):
            return "must be one of " + ", ".join(pattern[2:-2].split("|"))
    message = error.get("msg", "invalid value")
    return message[:1].lower() + message[1:]


def settings_error(exc: ValidationError) -> SettingsError:
    """One line per bad variable: ``AUDITORYX_<FIELD>='<value>': <what is wrong>``."""
    prefix = Settings.model_config.get("env_prefix", "")
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ())) or "?"
        name = f"{prefix}{field}".upper()
        lines.append(f"{name}={error.get('input')!r}: {_problem(error)}")
    return SettingsError("; ".join(lines))


def get_settings(**overrides) -> Settings:
    """The settings from the environment (and ``overrides``); a bad value raises
    :class:`SettingsError` naming the variable and its value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise settings_error(exc) from exc
