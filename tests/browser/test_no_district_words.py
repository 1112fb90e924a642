"""Issue 16's bar, checked on the running demo: no page, API response or CAP message names
the district level (gone since 1 July 2025), except history views that say so.

`ioc demo --scenario flood` runs as a user starts it (its own embedded servers, a fast clock
so alerts and CAP messages exist). Then, for every role, a real Chromium logs in and opens
every page of its navigation bar in both languages (and the feed and police pages with an
item selected); the page's text and its whole Dash component tree (dropdown options, table
rows, map figures) are searched. Every /api/v1 GET endpoint, the CAP feed and the MQTT
messages the demo publishes under ioc/v1/out/ are searched too."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from dashboards.api.ngsi_ld import ENTITY_TYPES
from ioc.services.process import free_port
from tests.district_words import Finding, find_in_body, find_in_json, find_in_text

# a whole demo, four roles, every page in two languages: long on a loaded machine
pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow,
              pytest.mark.timeout(3600)]

SPEED = 240  # simulated seconds per second: the storm's rivers pass level III in minutes
READY_S = 420  # generous: the machine running the tests may be loaded


class Demo:
    def __init__(self, state: Path, port: int, proc: subprocess.Popen, log: list[str]):
        self.state, self.port, self.proc, self.log = state, port, proc, log
        self.url = f"http://127.0.0.1:{port}"
        self.token = ""
        self.out_messages: list[tuple[str, bytes]] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
        env["IOC_STATE_DIR"] = str(self.state)
        return env

    def tail(self) -> str:
        return "".join(self.log[-40:])

    def api(self, path: str) -> tuple[int, str, bytes]:
        req = urllib.request.Request(self.url + "/api/v1" + path,
                                     headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.headers.get("Content-Type", ""), err.read()

    def api_json(self, path: str):
        status, _ctype, body = self.api(path)
        assert status == 200, (path, status, body[:300])
        return json.loads(body)


def _until(condition, timeout: float, what: str, demo: Demo | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if demo is not None and demo.proc.poll() is not None:
            break
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}" + ("\n" + demo.tail() if demo else ""))


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def _subscribe_out(demo: Demo) -> paho.Client:
    """Record every message the demo publishes under ioc/v1/out/ (alerts, hazard levels)."""
    running = json.loads((demo.state / "running.json").read_text())
    url = urllib.parse.urlsplit(running["mqtt_url"])
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"crawl-{os.getpid()}",
                         protocol=paho.MQTTv5)
    client.username_pw_set(urllib.parse.unquote(url.username or ""),
                           urllib.parse.unquote(url.password or ""))
    client.on_connect = lambda c, *_a: c.subscribe("ioc/v1/out/#", qos=1)
    client.on_message = lambda _c, _u, msg: demo.out_messages.append((msg.topic, msg.payload))
    client.connect(url.hostname, url.port)
    client.loop_start()
    return client


@pytest.fixture(scope="module")
def demo():
    state = Path(tempfile.mkdtemp(prefix="ioc-crawl-"))  # not the shared pytest tmp folders
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    env.update({"IOC_STATE_DIR": str(state / "state"), "PYTHONUNBUFFERED": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "demo", "--scenario", "flood", "--speed", str(SPEED),
         "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(iter(proc.stdout.readline, "")),
                              daemon=True)
    reader.start()
    d = Demo(state / "state", port, proc, log)
    client = None
    try:
        _until(lambda: _http_ok(d.url + "/login"), 180, "the demo's web server", d)
        _until(lambda: (d.state / "running.json").exists(), 60, "running.json", d)
        client = _subscribe_out(d)
        made = subprocess.run(
            [sys.executable, "-m", "ioc", "tokens", "create", "crawl",
             *[a for s in ("devices:read", "readings:read", "alerts:read", "incidents:read",
                           "kpi:read", "layers:read") for a in ("--scope", s)]],
            env=d.env(), capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        d.token = made.stdout.strip().splitlines()[-1]
        yield d
    finally:
        if client is not None:
            client.loop_stop()
            client.disconnect()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        reader.join(5)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def flooded(demo: Demo) -> Demo:
    """The demo once the flood shows: public alerts in the CAP feed, an incident, messages out."""

    def cap_entries() -> int:
        status, _c, body = demo.api("/cap.xml")
        return status == 200 and body.count(b"<entry>")

    _until(cap_entries, READY_S, "a public alert in the CAP feed", demo)
    _until(lambda: demo.api_json("/incidents?limit=5")["data"], READY_S, "an incident", demo)
    _until(lambda: any(t.startswith("ioc/v1/out/alerts/") for t, _ in demo.out_messages),
           READY_S, "an alert message on ioc/v1/out/alerts/", demo)
    return demo


def _report(findings: list[Finding]) -> str:
    seen: dict[tuple[str, str], Finding] = {}
    for f in findings:
        seen.setdefault((f.where.split("?")[0], f.text), f)
    return f"{len(findings)} texts name the district level:\n" + "\n".join(
        str(f) for f in list(seen.values())[:60])


# -- API, CAP and MQTT ------------------------------------------------------------------------------
def test_no_api_response_cap_or_mqtt_message_names_a_district(flooded: Demo):
    demo = flooded
    findings: list[Finding] = []

    def check(path: str) -> bytes:
        status, ctype, body = demo.api(path)
        assert status == 200, (path, status, body[:300])
        findings.extend(find_in_body(path, ctype, body))
        return body

    doc = json.loads(check("/openapi.json"))
    gets = [p for p, item in doc["paths"].items() if "get" in item]
    devices = json.loads(check("/devices?limit=1000"))["data"]
    alerts = json.loads(check("/alerts?limit=1000"))["data"]
    incidents = json.loads(check("/incidents?limit=200"))["data"]
    layers = json.loads(check("/layers"))["data"]
    assert devices and alerts and incidents and layers
    kpis = json.loads(check("/kpis"))["data"]
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 86400))
    one = {
        "/devices/{device_id}": [f"/devices/{d['device_id']}" for d in devices],
        "/alerts/{alert_id}": [f"/alerts/{a['id']}" for a in alerts[:100]],
        "/layers/{layer}": [f"/layers/{x['layer']}" for x in layers
                            if x["layer"] != "legacy_districts"],
        "/readings": [f"/readings?device_id={d['device_id']}&start={since}&limit=20"
                      for d in devices[:30]],
        "/snapshots/{sha256}": [],  # JPEG bytes
        "/ngsi-ld/v1/entities": [],
        "/ngsi-ld/v1/entities/{entity_id}": [],
    }
    for etype in ENTITY_TYPES:
        entities = json.loads(check(f"/ngsi-ld/v1/entities?type={etype}&limit=100"))
        check(f"/ngsi-ld/v1/entities?type={etype}&limit=100&options=keyValues")
        for e in entities[:5]:
            check("/ngsi-ld/v1/entities/" + urllib.parse.quote(e["id"], safe=""))
    for path in gets:
        for url in one.get(path, [path]):
            check(url)
            if path in ("/devices", "/latest", "/alerts", "/incidents", "/kpis/values"):
                check(url + ("&" if "?" in url else "?") + "format=csv")
    for kpi in kpis[:50]:
        check(f"/kpis/values?kpi_id={kpi['id']}&limit=1000")
    # history keeps its own names, and says it is history
    legacy = json.loads(demo.api("/layers/legacy_districts")[2])
    assert all("1/7/2025" in f["properties"]["label"] for f in legacy["features"])
    # the CAP messages themselves (each entry of the feed is one CAP 1.2 <alert>)
    cap = check("/cap.xml")
    assert cap.count(b"<alert ") + cap.count(b"<alert>") >= 1
    # and every message out on MQTT so far
    for topic, payload in list(demo.out_messages):
        findings.extend(find_in_text("mqtt " + topic, topic))
        findings.extend(find_in_json("mqtt " + topic, json.loads(payload)))
    assert demo.out_messages
    assert not findings, _report(findings)


# -- every page, every role, both languages ---------------------------------------------------------
PROBE = """
const s = window.store && window.store.getState();
if (!s || !s.layout) return {pending: -1, text: 0};
const busy = [].concat(...Object.entries(s.callbacks || {})
    .filter(([k]) => k !== 'stored' && k !== 'completed').map(([, v]) => v)).length;
return {pending: busy + (s.isLoading ? 1 : 0), text: document.body.innerText.trim().length};
"""
COLLECT = """
const s = window.store.getState();
return {
  text: document.body.innerText,
  layout: JSON.stringify(s.layout),
  links: Array.from(document.querySelectorAll('#app-nav a[href]')).map(a => a.href),
};
"""


def _browser():
    from selenium import webdriver

    from tests.conftest import pytest_setup_options

    options = pytest_setup_options()
    driver = webdriver.Chrome(options=options)
    driver.set_script_timeout(180)  # reading a map page's component tree on a loaded machine
    driver.set_page_load_timeout(180)
    return driver


def _settled(driver, quiet_s: float = 1.5, busy_s: float = 20, timeout: float = 120) -> dict:
    """The page once Dash has had no callback pending for `quiet_s`; a page whose live
    refresh keeps a callback in flight is taken as it is after `busy_s` with content.
    Polls with a cheap script; the whole component tree (large on the map pages) is read
    once, at the end."""
    started = time.monotonic()
    quiet_since = None
    while time.monotonic() - started < timeout:
        got = driver.execute_script(PROBE)
        if got["pending"] >= 0 and got["text"]:
            if got["pending"] == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_s:
                    break
            else:
                quiet_since = None
            if time.monotonic() - started >= busy_s:
                break
        time.sleep(0.25)
    else:
        raise AssertionError(f"{driver.current_url}: no Dash page within {timeout} s")
    return driver.execute_script(COLLECT)


def _login(driver, base: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(base + "/login")
    wait = WebDriverWait(driver, 180)  # a loaded machine: the first page builds Dash
    wait.until(ec.presence_of_element_located((By.ID, "login-username"))).send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    wait.until(ec.presence_of_element_located((By.ID, "app-nav-user")))


def _page_findings(driver, url: str) -> tuple[list[Finding], dict]:
    driver.get(url)
    got = _settled(driver)
    where = url.split("://", 1)[-1].split("/", 1)[-1]
    found = find_in_text("/" + where, got["text"])
    found += find_in_json("/" + where + " (Dash)", json.loads(got["layout"]))
    return found, got


def test_no_page_names_a_district(flooded: Demo):
    demo = flooded
    users = json.loads((demo.state / "demo-users.json").read_text())
    alerts = demo.api_json("/alerts?limit=5&status=open")["data"]
    incidents = demo.api_json("/incidents?limit=200")["data"]
    incidents = sorted(incidents, key=lambda i: i["queue_priority"] is None)
    findings: list[Finding] = []
    visited: set[str] = set()
    for user in users:
        driver = _browser()
        try:
            _login(driver, demo.url, user["username"], user["password"])
            got = _settled(driver)
            pages = sorted({u.split("?")[0] for u in got["links"] if u.startswith(demo.url)})
            assert pages, f"{user['role']}: no navigation links"
            extra = []
            if any(p.endswith("/feed") for p in pages):
                extra += [f"{demo.url}/feed?alert={a['id']}" for a in alerts[:3]]
            if any(p.endswith("/police") for p in pages):
                extra += [f"{demo.url}/police?incident={i['source']}:{i['event_id']}"
                          for i in incidents[:2]]
            for page in pages + extra:
                for lang in ("vi", "en"):
                    url = page + ("&" if "?" in page else "?") + f"lang={lang}"
                    found, got = _page_findings(driver, url)
                    assert got["text"].strip(), url
                    # the page's own content, not only the navigation bar (a page whose layout
                    # raised showed the bar alone, and no word to find)
                    assert driver.execute_script(
                        "return document.querySelectorAll('h1, h2').length"), f"{url}: no title"
                    findings += found
                    visited.add(page.replace(demo.url, "").split("?")[0])
        finally:
            driver.quit()
    for path in ("/", "/ops", "/feed", "/devices", "/police", "/kpi", "/wall", "/admin/users"):
        assert path in visited, (path, sorted(visited))
    assert not findings, _report(findings)
