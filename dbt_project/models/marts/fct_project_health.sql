{#
  One row per project: budget use, milestones and the at-risk flag as of the date D.
  Overdue milestone: due_date < D and status <> 'COMPLETED' (whatever status it stores).
  At risk: any overdue milestone, or spent > budget (budget > 0), or deadline < D while the
  project is not COMPLETED or CANCELLED. Money is in the tenant's base currency at D; the
  project's own currency and amounts are kept next to it, and budget_used_pct and the budget
  rule use the original amounts (same currency on both sides, no FX rounding).
#}

with projects as (

    select * from {{ scoped_ref('int_projects_enriched') }}

),

milestones as (

    select * from {{ scoped_ref('stg_operational__project_milestones') }}

),

milestone_counts as (

    select
        tenant_id,
        project_id,
        count(*) as milestones_total,
        count(*) filter (where status = 'COMPLETED') as milestones_completed,
        count(*) filter (where due_date < {{ as_of_date() }} and status <> 'COMPLETED')
            as milestones_overdue
    from milestones
    group by tenant_id, project_id

),

health as (

    select
        projects.*,
        coalesce(milestone_counts.milestones_total, 0) as milestones_total,
        coalesce(milestone_counts.milestones_completed, 0) as milestones_completed,
        coalesce(milestone_counts.milestones_overdue, 0) as milestones_overdue,
        case
            when projects.budget is null or projects.budget = 0 then null
            else cast(projects.spent as double) / cast(projects.budget as double)
        end as budget_used_pct,
        coalesce(projects.budget > 0 and projects.spent > projects.budget, false) as is_over_budget,
        coalesce(
            projects.deadline < {{ as_of_date() }}
            and projects.status not in ('COMPLETED', 'CANCELLED'),
            false
        ) as is_past_deadline
    from projects
    left join milestone_counts
        on milestone_counts.tenant_id = projects.tenant_id
        and milestone_counts.project_id = projects.project_id

)

select
    cast(tenant_id as varchar) as tenant_id,
    cast(project_id as varchar) as project_id,
    cast(project_name as varchar) as name,
    cast(status as varchar) as status,
    cast({{ as_of_date() }} as date) as as_of,
    cast(base_currency as varchar) as base_currency,
    cast(budget_base as decimal(18, 2)) as budget,
    cast(spent_base as decimal(18, 2)) as spent,
    cast(budget_used_pct as double) as budget_used_pct,
    cast(milestones_total as bigint) as milestones_total,
    cast(milestones_completed as bigint) as milestones_completed,
    cast(milestones_overdue as bigint) as milestones_overdue,
    cast(is_over_budget as boolean) as is_over_budget,
    cast(is_past_deadline as boolean) as is_past_deadline,
    cast(milestones_overdue > 0 or is_over_budget or is_past_deadline as boolean) as is_at_risk,
    cast(deadline as date) as deadline,
    cast(currency as varchar) as project_currency,
    cast(budget as decimal(18, 2)) as budget_project_currency,
    cast(spent as decimal(18, 2)) as spent_project_currency,
    cast(fx_rate_date as date) as fx_rate_date,
    cast(fx_usd_per_unit as decimal(18, 8)) as fx_usd_per_unit,
    cast(fx_base_rate_date as date) as fx_base_rate_date,
    cast(fx_base_units_per_usd as decimal(18, 8)) as fx_base_units_per_usd
from health
