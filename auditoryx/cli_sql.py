"""`auditoryx sql` and `auditoryx tables`: the analysts' commands over one tenant's snapshot.

Registered in auditoryx/cli.py (``app.command("sql")(sql)``, ``app.command("tables")(tables)``).
The logic and the formatting live in warehouse/analyst.py; problems are AuditoryxErrors, which
``auditoryx.cli.main`` prints as one line.
"""
from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Iterator, Optional

import typer

from auditoryx.errors import AuditoryxError
from auditoryx.settings import get_settings

TENANT_HELP = "Tenant slug (or tenant id)."


class Format(str, enum.Enum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def sql(
    query: Optional[str] = typer.Argument(
        None, help="One SELECT statement over the tenant's marts and meta; none: an interactive shell."),
    tenant: str = typer.Option(..., "--tenant", help=TENANT_HELP),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="Output format (parquet needs --output)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the result to this file."),
) -> None:
    """Run a read-only query over one tenant's current snapshot (no query: an interactive shell)."""
    from warehouse.analyst import connect, format_result, run_shell, write_result

    if query is None and output is not None:
        raise AuditoryxError("--output needs a query (the interactive shell prints its results)")
    if fmt is Format.parquet and output is None:
        raise AuditoryxError("--format parquet needs --output FILE")
    if query is None and fmt is Format.parquet:
        raise AuditoryxError("the interactive shell prints table, csv or json")
    with connect(tenant, get_settings()) as snap:
        if query is None:
            interactive = sys.stdin.isatty()
            if interactive:
                typer.echo(f"tenant {tenant}, snapshot {snap.version} (read-only). End statements with ';'; "
                           ".tables, .schema TABLE, .help, .quit", err=True)
            failures = run_shell(snap, _input_lines(interactive), lambda text: typer.echo(text, nl=False),
                                 lambda text: typer.echo(text, err=True), fmt=fmt.value)
            if failures and not interactive:
                raise AuditoryxError(f"{failures} of the shell's commands failed (see above)")
            return
        frame = snap.query(query)
    if output is not None:
        path = write_result(frame, fmt.value, output)
        typer.echo(f"wrote {frame.height} rows to {path}", err=True)
    else:
        typer.echo(format_result(frame, fmt.value), nl=False)


def _input_lines(interactive: bool) -> Iterator[str]:
    if not interactive:
        yield from sys.stdin
        return
    try:  # line editing and history where available
        import readline  # noqa: F401
    except ImportError:
        pass
    prompt = "auditoryx> "
    while True:
        try:
            line = input(prompt)
        except EOFError:
            typer.echo("", err=True)
            return
        except KeyboardInterrupt:
            typer.echo("", err=True)
            continue
        prompt = "auditoryx> " if line.rstrip().endswith(";") or line.strip().startswith(".") or not line.strip() \
            else "      ...> "
        yield line


def tables(
    tenant: str = typer.Option(..., "--tenant", help=TENANT_HELP),
    table: Optional[str] = typer.Argument(None, help="Only this table."),
) -> None:
    """List the tables of the tenant's current snapshot with their columns, types and descriptions (dbt docs)."""
    from warehouse.analyst import connect, format_tables

    with connect(tenant, get_settings()) as snap:
        typer.echo(format_tables(snap.describe(table)), nl=False)
