"""Report exports of your organization: list them, request one (answered with its manifest when
it is written), read a manifest, download a file. Exports are rendered by reports/ from the
tenant's published snapshot, in the same folders the Reports page lists."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from api.context import ApiContext, IdempotentRequest, Principal, get_context, idempotency_key, principal, run_write
from reports import export as exports

router = APIRouter(prefix="/analytics", tags=["analytics"])
PERIOD = Path(max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")
STAMP = Path(max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")


class ExportRequest(BaseModel):
    formats: list[Literal["xlsx", "html", "pdf", "csv", "parquet"]] = Field(["xlsx", "csv"], min_length=1)
    period: str | None = Field(None, max_length=40, description="e.g. last-30-days, previous-month, 2026-05")
    sections: list[str] | None = Field(None, max_length=20)
    include_ids: bool = False


def _summary(export: exports.ExportResult) -> dict:
    export_id = f"{export.folder.parent.name}/{export.folder.name}"
    return {"id": export_id, "manifest": export.manifest,
            "files": [f"/api/v1/analytics/reports/{export_id}/files/{entry['file']}"
                      for entry in export.manifest.get("files", [])]}


@router.get("/reports", summary="Your organization's report exports, newest first")
def list_reports(caller: Principal = Depends(principal), context: ApiContext = Depends(get_context)) -> dict:
    found = exports.list_exports(context.settings.resolved_exports_dir, caller.tenant_id, actor=caller.actor)
    return {"items": [_summary(export) for export in found]}


@router.post("/exports", status_code=201, summary="Export a report now; answers its manifest once written")
def request_export(body: ExportRequest, caller: Principal = Depends(principal),
                   context: ApiContext = Depends(get_context),
                   idem: IdempotentRequest | None = Depends(idempotency_key)):
    return run_write(context, caller, idem, lambda: _summary(exports.export_tenant(
        context.settings, caller.tenant_id, actor=caller.actor, formats=body.formats, period=body.period,
        sections=body.sections, include_ids=body.include_ids, engine=context.engine)), status_code=201)


@router.get("/reports/{period}/{stamp}", summary="One export's manifest")
def read_report(period: str = PERIOD, stamp: str = STAMP, caller: Principal = Depends(principal),
                context: ApiContext = Depends(get_context)) -> dict:
    return _summary(exports.find_export(context.settings.resolved_exports_dir, caller.tenant_id,
                                        f"{period}/{stamp}", actor=caller.actor))


@router.get("/reports/{period}/{stamp}/files/{name}", response_class=FileResponse, summary="Download one file")
def download(name: str, period: str = PERIOD, stamp: str = STAMP, caller: Principal = Depends(principal),
             context: ApiContext = Depends(get_context)):
    export = exports.find_export(context.settings.resolved_exports_dir, caller.tenant_id, f"{period}/{stamp}",
                                 actor=caller.actor)
    return FileResponse(exports.export_file(export, name), filename=name)
