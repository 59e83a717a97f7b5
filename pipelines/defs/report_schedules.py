"""Per-tenant scheduled reports: every 15 minutes, run the tenants' due report schedules.

Thin: the op calls :func:`reports.schedules.run_due`, which decides what is due (cadence, hour,
last slot run), exports and queues the e-mail; one tenant's failure is reported in the op's
output and fails the run only after every other tenant was served.
"""
import dagster as dg

from pipelines.defs.resources import AuditoryxSettings
from reports.schedules import run_due


@dg.op(description="Export and send every tenant report schedule that is due now.")
def run_due_report_schedules(context: dg.OpExecutionContext, auditoryx: AuditoryxSettings) -> dg.Output:
    runs = run_due(auditoryx.settings())
    for run in runs:
        context.log.info(f"tenant {run.tenant_id} slot {run.slot}: {run.status} ({run.detail})")
    failed = [run for run in runs if run.status == "failed"]
    if failed:
        raise dg.Failure(description="; ".join(f"tenant {r.tenant_id}: {r.detail}" for r in failed),
                         metadata={"due": len(runs), "failed": len(failed)})
    return dg.Output(len(runs), metadata={"due": len(runs), "sent": sum(r.status == "sent" for r in runs),
                                          "exported_only": sum(r.status == "exported" for r in runs)})


@dg.job(description="Run the tenants' due report schedules (organization settings → report schedule).")
def run_report_schedules():
    run_due_report_schedules()


@dg.schedule(job=run_report_schedules, cron_schedule="*/15 * * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def report_schedules(context: dg.ScheduleEvaluationContext):
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat())
