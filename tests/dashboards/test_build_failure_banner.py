"""A tenant whose build failed its checks keeps its last version; its Data and quality page says
so with the reasons (as text), and another tenant's page shows nothing of it."""
from __future__ import annotations

from apptest_support import rendered_text
from apptest_support import login as _login
from tenant_data import PASSWORD


def test_failed_build_reasons_show_for_their_tenant_only(admin_world):
    from warehouse.tenant_status import clear_status, write_failed

    world = admin_world
    reason = "assert_bookings_have_fx_rates: 2 rows, e.g. currency **DKK** <b>x</b>"
    write_failed(world.published_dir, world.b.tenant_id, [reason])
    b_page = _login(world.b.email, PASSWORD)
    b_page.switch_page("views/12_data_quality.py").run()
    assert not b_page.exception
    assert any("failed its checks" in e.value for e in b_page.error)
    assert reason in [t.value for t in b_page.text]  # verbatim, as text
    a_page = _login(world.a.email, PASSWORD)
    a_page.switch_page("views/12_data_quality.py").run()
    assert not a_page.error and "DKK" not in rendered_text(a_page)
    clear_status(world.published_dir, world.b.tenant_id)
    b_page.run()
    assert not b_page.error


def test_the_operator_sees_every_failed_tenant_on_the_platform_page(admin_world):
    from operational.enums import UserRole
    from tenant_data import role_email
    from warehouse.tenant_status import write_failed

    world = admin_world
    write_failed(world.published_dir, world.b.tenant_id, ["relationships_within_tenant: 1 row"])
    at = _login(role_email(world.a, UserRole.SUPER_ADMIN.value), PASSWORD)
    at.switch_page("views/04_platform.py").run()
    assert not at.exception
    shown = str([df.value for df in at.dataframe])
    assert "relationships_within_tenant: 1 row" in shown and world.b.slug in shown
