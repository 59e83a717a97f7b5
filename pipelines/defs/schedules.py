"""Schedules: a periodic refresh of every tenant and the nightly key reconciliation."""
import dagster as dg

from pipelines.defs.assets.exports import report_exports_job
from pipelines.defs.jobs import all_tenants_run_request, reconcile_tenants, refresh_tenants


@dg.schedule(job=refresh_tenants, cron_schedule="0 */6 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def periodic_refresh(context: dg.ScheduleEvaluationContext):
    request = all_tenants_run_request(context.instance, run_key=context.scheduled_execution_time.isoformat())
    return request or dg.SkipReason("no tenants yet")


@dg.schedule(job=reconcile_tenants, cron_schedule="30 2 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def nightly_reconciliation(context: dg.ScheduleEvaluationContext):
    request = all_tenants_run_request(context.instance, run_key=context.scheduled_execution_time.isoformat())
    return request or dg.SkipReason("no tenants yet")


@dg.schedule(job=report_exports_job, cron_schedule="0 6 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.RUNNING)
def weekly_report_exports(context: dg.ScheduleEvaluationContext):
    request = all_tenants_run_request(context.instance, run_key=context.scheduled_execution_time.isoformat())
    return request or dg.SkipReason("no tenants yet")
