"""The console as a real server (`dlp console` on 127.0.0.1) driven by a real headless Chromium.

Debian's chromium and chromium-driver (installed by .ci/run), Selenium from PyPI; nothing is
downloaded. Screenshots go to a temporary folder; with DLP_REGENERATE_DOCS=1 the incident page
and the dashboard (wide window) are also written to docs/ for the README.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from dlp.frontends.cli import Env, main

from .conftest import PASSWORD, held

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
DOCS = Path(__file__).resolve().parents[3] / "docs"
WIDE, NARROW = (1280, 900), (390, 844)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()), reason="Debian's chromium and chromium-driver"),
]
webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def server(demo):
    """`dlp console` in its own process, on a port the kernel picks."""
    command = [sys.executable, "-m", "dlp", *demo.args(), "console", "--listen", "127.0.0.1:0"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLP_")}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        assert line.startswith("dlp console listening on http://127.0.0.1:"), line + process.stderr.read()
        yield line.split()[-1].rstrip("/")
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="dlp-chromium-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", f"--window-size={WIDE[0]},{WIDE[1]}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def log_in(browser, base: str, name: str) -> None:
    browser.delete_all_cookies()
    browser.get(base + "/login")
    browser.find_element(By.NAME, "name").send_keys(name)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "section.login button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url.rstrip("/") == base)


def shoot(browser, size: tuple[int, int], path: Path) -> None:
    """A screenshot of the whole page at this width; fails if the page is wider than the window."""
    browser.set_window_size(*size)
    width, inner = browser.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"{browser.current_url} is {width} px wide in a {inner} px window"
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(size[0], min(max(size[1], height + 140), 6000))
    browser.save_screenshot(str(path))
    browser.set_window_size(*size)


def test_review_in_a_browser_from_login_to_release(server, browser, demo, shots):
    incident, quarantined = held(demo, "forum-gear-pump-staggered-start.html")
    content = quarantined.read_bytes()
    log_in(browser, server, "rita")

    # filter the queue: open quarantines of the watch channel
    Select(browser.find_element(By.NAME, "channel")).select_by_visible_text("watch")
    Select(browser.find_element(By.NAME, "action")).select_by_visible_text("quarantine")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda b: "channel=watch" in b.current_url)
    links = [a.text for a in browser.find_elements(By.CSS_SELECTOR, "table.queue td a")]
    assert links == [incident]

    # open it, then release it with a justification
    browser.find_element(By.LINK_TEXT, incident).click()
    WebDriverWait(browser, 10).until(lambda b: b.current_url.endswith(f"/incidents/{incident}"))
    assert "mixing-controller v1" in browser.page_source and "quarantined file" in browser.page_source
    shoot(browser, WIDE, shots / "incident-wide.png")
    shoot(browser, NARROW, shots / "incident-narrow.png")
    browser.find_element(By.NAME, "justification").send_keys("Forum answer reviewed with R&D: comment is public")
    browser.find_element(By.CSS_SELECTOR, "button[value=release]").click()
    WebDriverWait(browser, 10).until(lambda b: "released</strong> by rita" in b.page_source)
    flash = browser.find_element(By.CSS_SELECTOR, "p.flash").text
    released = demo.release / "forum-gear-pump-staggered-start.html"
    assert f"moved to {released}" in flash
    assert released.read_bytes() == content and not quarantined.exists()

    out, err = io.StringIO(), io.StringIO()
    assert main(["--state", str(demo.state), "audit", "verify"], Env(stdout=out, stderr=err, environ={})) == 0
    assert out.getvalue().startswith("audit trail intact:")
    out = io.StringIO()
    main(["--state", str(demo.state), "audit", "show", "--last", "1", "--format", "json"],
         Env(stdout=out, stderr=err, environ={}))
    assert '"event":"release"' in out.getvalue() and f'"incident":"{incident}"' in out.getvalue()
    assert '"by":"rita"' in out.getvalue() and '"via":"console"' in out.getvalue()


PAGES = {"queue": "/?status=", "dashboard": "/dashboard", "audit": "/audit", "registry": "/registry",
         "users": "/users", "login": "/login"}


@pytest.mark.parametrize("size", [NARROW, WIDE], ids=["narrow", "wide"])
def test_every_page_renders_narrow_and_wide(server, browser, demo, shots, size):
    log_in(browser, server, "ada")
    for name, path in PAGES.items():
        if name == "login":
            browser.delete_all_cookies()
        browser.get(server + path)
        assert "Log" in browser.title or browser.find_element(By.TAG_NAME, "h1").text
        shoot(browser, size, shots / f"{name}-{size[0]}.png")
    log_in(browser, server, "ada")
    browser.get(server + "/?status=&channel=mail&action=block")
    browser.find_elements(By.CSS_SELECTOR, "table.queue td a")[0].click()
    shoot(browser, size, shots / f"incident-{size[0]}.png")
    if size == WIDE and os.environ.get("DLP_REGENERATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        browser.get(server + "/dashboard")
        shoot(browser, WIDE, DOCS / "console-dashboard.png")
        browser.get(server + "/?status=open&channel=mail&action=block&secret=design-spec&class=external")
        browser.find_elements(By.CSS_SELECTOR, "table.queue td a")[0].click()
        shoot(browser, WIDE, DOCS / "console-incident.png")


def test_console_works_without_javascript(server, demo, shots):
    """Log in, filter and open an incident with JavaScript switched off: only forms and links."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="dlp-chromium-nojs-")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 f"--user-data-dir={profile}", "--blink-settings=scriptEnabled=false"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=str(DRIVER)), options=options)
    try:
        log_in(driver, server, "vic")
        driver.find_element(By.NAME, "secret").send_keys("customers")
        driver.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
        started = time.monotonic()
        while "secret=customers" not in driver.current_url and time.monotonic() - started < 10:
            time.sleep(0.05)
        links = driver.find_elements(By.CSS_SELECTOR, "table.queue td a")
        assert links
        links[0].click()
        assert "customers v1" in driver.page_source and "row " in driver.page_source
        driver.get(server + "/dashboard")
        assert driver.page_source.count("<svg") >= 6           # the charts are drawn by the server
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
