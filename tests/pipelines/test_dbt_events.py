"""dbt run results become Dagster events: outputs for built models, check results for tests."""
from __future__ import annotations

import datetime as dt
import json

import dagster as dg
from dagster_dbt.asset_utils import get_asset_check_key_for_test

from pipelines.dbt_events import dbt_run_events, in_build_order, unchanged_outputs
from pipelines.defs.assets.dbt import AuditoryxDbtTranslator
from tests.dbt.build_data import create_build_db, utc
from tests.dbt.test_dbt_runner import _booking
from warehouse.dbt_runner import invoke_dbt_outcome, run_dbt


def test_a_build_with_failing_rows_reports_built_models_and_failed_checks(tmp_path):
    """Failing rows warn (their tenants fail, warehouse/dbt_runner.py): the models downstream still build."""
    rows = {
        "organizations": [{"id": "t1", "name": "T1", "slug": "t1", "type": "RECORD_LABEL", "plan": "FREE",
                           "settings": {"base_currency": "EUR"}}],
        "artists": [{"id": "a1", "org_id": "t1", "name": "Ann"}],
        "bookings": [_booking("ok", "t1", "USD", utc(2024, 6, 3, 12)),
                     _booking("no-rate", "t1", "ISK", utc(2024, 6, 3, 12))],  # no ISK in the FX seed
    }
    build_db = create_build_db(tmp_path / "build.duckdb", rows)
    target = tmp_path / "run-target"
    outcome = invoke_dbt_outcome(["build", "--exclude-resource-type", "unit_test"], build_db=build_db,
                                 work_dir=tmp_path / "work", as_of=dt.date(2024, 6, 30), target_dir=target)
    assert outcome.failure is None
    assert "assert_bookings_have_fx_rates" in {t.name for t in outcome.failed_tests}

    run_results = json.loads((target / "run_results.json").read_text())
    assert not (target / "manifest.json").exists()  # builds write results only; the manifest comes from parse
    run_dbt(["parse"], build_db=build_db, work_dir=tmp_path / "work", as_of=dt.date(2024, 6, 30), target_dir=target)
    manifest = json.loads((target / "manifest.json").read_text())
    translator = AuditoryxDbtTranslator()
    everything = [uid for uid, node in manifest["nodes"].items() if node["resource_type"] in ("model", "seed")]
    outputs = {translator.get_asset_spec(manifest, uid, None).key.to_python_identifier() for uid in everything}
    checks = {get_asset_check_key_for_test(manifest, translator, uid, None)
              for uid, node in manifest["nodes"].items() if node["resource_type"] == "test"}
    assert None not in checks  # every data test, singular ones included, is a check on one asset

    events = list(dbt_run_events(run_results, manifest, translator, selected_outputs=outputs,
                                 selected_checks=checks))
    built = {event.output_name for event in events if isinstance(event, dg.Output)}
    results = {(event.asset_key.to_user_string(), event.check_name): event for event in events
               if isinstance(event, dg.AssetCheckResult)}

    assert {"fx_rates", "stg_operational__bookings", "int_bookings_enriched"} <= built
    assert "fct_revenue_monthly" in built  # not skipped: the other tenants' rows still build
    failed = results[("int_bookings_enriched", "assert_bookings_have_fx_rates")]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.WARN
    assert failed.metadata["dagster_dbt/failed_row_count"].value == 1
    assert results[("stg_operational__bookings", "not_null_stg_operational__bookings_booking_id")].passed

    # only what the run selected is reported
    only = list(dbt_run_events(run_results, manifest, translator, selected_outputs={"fx_rates"},
                               selected_checks=set()))
    assert [event.output_name for event in only] == ["fx_rates"]

    # a scoped build that did not run a model reports it unchanged (publishing downstream still runs)
    scoped = {**run_results, "results": [r for r in run_results["results"]
                                         if r["unique_id"] != "model.auditoryx.fct_revenue_monthly"]}
    unchanged = list(unchanged_outputs(scoped, manifest, translator, selected_outputs=outputs))
    assert [event.output_name for event in unchanged] == ["fct_revenue_monthly"]
    assert "unchanged" in str(unchanged[0].metadata["status"])
    assert not list(unchanged_outputs(run_results, manifest, translator, selected_outputs=outputs))

    # merged, events keep the graph's order: a model after what it depends on, a check after its model
    ordered = in_build_order([*reversed(events), *unchanged], manifest, translator)
    position = {(type(e).__name__, getattr(e, "output_name", None) or e.asset_key.to_python_identifier()): i
                for i, e in enumerate(ordered)}
    assert position[("Output", "stg_operational__bookings")] < position[("Output", "int_bookings_enriched")] \
        < position[("Output", "fct_revenue_monthly")]
    assert position[("Output", "int_bookings_enriched")] < position[("AssetCheckResult", "int_bookings_enriched")]
