"""Log-in in a real Chromium: wrong password, the role's navigation, a forbidden page,
admin user management, the audit page, log-out, and the demo accounts panel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys

from dashboards.app import create_app
from tests.fixtures.fix_web import login

pytestmark = [pytest.mark.browser, pytest.mark.integration]

SHOTS = Path(__file__).parent / "screenshots"


def _nav_links(dash_duo) -> set[str]:
    return {a.get_attribute("pathname") for a in dash_duo.find_elements(".nav-link")}


def test_operator_logs_in_sees_own_pages_only_and_logs_out(dash_duo, settings, web_users):
    app = create_app(settings)
    dash_duo.start_server(app)
    # anonymous: the start page sends the browser to the log-in form
    dash_duo.wait_for_element("#login-form", timeout=10)
    assert "/login" in dash_duo.driver.current_url
    user = web_users["operator"]
    dash_duo.find_element("#login-username").send_keys(user.username)
    dash_duo.find_element("#login-password").send_keys("wrong-password-1" + Keys.ENTER)
    dash_duo.wait_for_contains_text("#login-message", "Sai tên đăng nhập", timeout=10)
    SHOTS.mkdir(exist_ok=True)
    dash_duo.driver.save_screenshot(str(SHOTS / "login-vi.png"))
    login(dash_duo, user.username, user.password)
    dash_duo.wait_for_text_to_equal("#app-nav-user", "Test operator", timeout=10)
    links = _nav_links(dash_duo)
    assert "/admin/users" not in links and "/admin/audit" not in links
    # typing the address of an admin page shows a refusal, not the page
    dash_duo.driver.get(dash_duo.server_url + "/admin/users")
    dash_duo.wait_for_element("#app-forbidden", timeout=10)
    assert not dash_duo.find_elements("#admin-users-table")
    dash_duo.find_element("#app-logout").click()
    dash_duo.wait_for_element("#login-form", timeout=10)
    dash_duo.wait_for_contains_text("#login-message", "Đã đăng xuất", timeout=10)
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_element("#login-form", timeout=10)
    assert dash_duo.get_logs() == []


def test_admin_adds_a_user_and_finds_it_in_the_audit_log(dash_duo, settings, web_users):
    app = create_app(settings)
    dash_duo.start_server(app)
    admin = web_users["admin"]
    login(dash_duo, admin.username, admin.password, next_url="/admin/users?lang=en")
    dash_duo.wait_for_element("#admin-users-table", timeout=10)
    assert {"/admin/users", "/admin/audit"} <= _nav_links(dash_duo)
    dash_duo.find_element("#admin-act-add-username").send_keys("duty.officer")
    dash_duo.find_element("#admin-act-add-name").send_keys("Duty Officer")
    dash_duo.select_dcc_dropdown("#admin-act-add-role", index=0)
    dash_duo.find_element("#admin-act-add").click()
    dash_duo.wait_for_contains_text("#admin-users-message", "Password of duty.officer",
                                    timeout=10)
    dash_duo.wait_for_contains_text("#admin-users-table", "duty.officer", timeout=10)
    dash_duo.driver.save_screenshot(str(SHOTS / "admin-users-en.png"))
    dash_duo.driver.get(dash_duo.server_url + "/admin/audit?lang=en")
    dash_duo.wait_for_element("#admin-audit-table", timeout=10)
    dash_duo.find_element("#admin-audit-text").send_keys("duty.officer")
    dash_duo.find_element("#admin-audit-search").click()
    dash_duo.wait_for_contains_text("#admin-audit-count", "1 entries", timeout=10)
    assert "user.create" in dash_duo.find_element("#admin-audit-table").text
    dash_duo.driver.save_screenshot(str(SHOTS / "admin-audit-en.png"))
    assert dash_duo.get_logs() == []


def test_demo_log_in_page_shows_the_demo_accounts(dash_duo, settings, web_users):
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    creds = [{"username": u.username, "role": u.role, "password": u.password}
             for u in web_users.values()]
    (state / "demo-users.json").write_text(json.dumps(creds))
    app = create_app(settings.model_copy(update={"env": "demo"}))
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#login-demo", timeout=10)
    assert "DEMO" in dash_duo.find_element("#login-demo").text
    assert web_users["police"].password in dash_duo.find_element("#login-demo").text
    login(dash_duo, web_users["police"].username, web_users["police"].password)
    dash_duo.wait_for_element("#app-nav-demo", timeout=10)
    assert _nav_links(dash_duo) <= {"/police"}
    assert dash_duo.get_logs() == []
