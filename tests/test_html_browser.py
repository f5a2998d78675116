"""The HTML report in a real headless Chromium (Debian's ``chromium`` and ``chromium-driver``).

Skipped when Chromium or chromedriver is missing, except under CI (env ``CI`` set), which
installs them: there a missing browser is a failure. The screenshot is left in the test's
temporary directory (``report.png``) for CI to keep as an artifact.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

import htsr
from htsr.html import table_frame
from htsr.rmt import gaussian_matrix, low_rank_matrix, pareto_matrix, spiked_matrix

pytestmark = pytest.mark.browser

#: Seconds to wait for the lazily decoded images (a few 20 kB PNGs decode in milliseconds).
IMAGE_TIMEOUT = 10.0


def _find(*names: str) -> str | None:
    return next((p for p in map(shutil.which, names) if p), None)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    browser = _find("chromium", "chromium-browser", "google-chrome")
    chromedriver = _find("chromedriver")
    missing = [n for n, p in (("chromium", browser), ("chromedriver", chromedriver)) if not p]
    if missing:
        message = f"{' and '.join(missing)} not found (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test: {message}")
        pytest.skip(message)
    if not os.environ.get("CI"):
        pytest.importorskip("selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture(scope="module")
def small_report() -> htsr.Report:
    """Five matrices of known kinds and one bias (not a layer)."""
    model = {
        "embed.weight": gaussian_matrix(400, 64, rng=1),
        "block.0.attn.q.weight": spiked_matrix(256, 128, [4.0, 8.0], rng=2),
        "block.0.mlp.fc1.weight": pareto_matrix(512, 128, 1.5, rng=3),
        "block.0.mlp.fc1.bias": np.zeros(512),
        "block.0.mlp.fc2.weight": low_rank_matrix(128, 512, 20, rng=4),
        "head.weight": gaussian_matrix(300, 100, rng=5),
    }
    return htsr.analyze(model)


@pytest.fixture(scope="module")
def page(driver, small_report, tmp_path_factory):  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("html") / "report.html"
    small_report.to_html(path)
    driver.get(path.as_uri())
    return driver


def _js(driver, script: str):  # type: ignore[no-untyped-def]
    return driver.execute_script(script)


def _visible(driver, selector: str) -> int:  # type: ignore[no-untyped-def]
    script = (
        "return Array.from(document.querySelectorAll(arguments[0])).filter(e => !e.hidden).length;"
    )
    return int(driver.execute_script(script, selector))


def _alpha_values(driver) -> list[str]:  # type: ignore[no-untyped-def]
    return _js(
        driver,
        """const heads = Array.from(document.querySelectorAll('#layers th'));
        const col = heads.findIndex(h => h.textContent.trim().startsWith('alpha'));
        return Array.from(document.querySelectorAll('#layers tbody tr'))
            .map(r => r.cells[col].dataset.v);""",
    )


def test_browser_report(page, small_report, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    driver = page
    # one table row per layer (the bias is not a layer)
    rows = driver.find_elements(By.CSS_SELECTOR, "#layers tbody tr")
    assert len(rows) == len(table_frame(small_report)) == 5

    # every image decoded once the sections are opened
    driver.find_element(By.ID, "expand-all").click()
    deadline = time.monotonic() + IMAGE_TIMEOUT
    widths: list[int] = []
    while time.monotonic() < deadline:
        widths = _js(
            driver,
            "return Array.from(document.images).map(i => i.complete ? i.naturalWidth : -1);",
        )
        if widths and all(w > 0 for w in widths):
            break
        time.sleep(0.1)
    # model figure + one per analysed layer
    assert len(widths) == 1 + len(small_report.analysed), widths
    assert all(w > 0 for w in widths), f"images not decoded: {widths}"

    # sorting by alpha: ascending, then descending; missing values stay last
    header = next(
        h for h in driver.find_elements(By.CSS_SELECTOR, "#layers th") if h.text.startswith("alpha")
    )
    header.click()
    values = [v for v in _alpha_values(driver) if v != ""]
    assert len(values) >= 3
    assert [float(v) for v in values] == sorted(float(v) for v in values)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    values = [float(v) for v in _alpha_values(driver) if v != ""]
    assert values == sorted(values, reverse=True)

    # filter by kind: the table and the sections follow
    kinds = small_report.analysed["kind"]
    kind = kinds.value_counts().index[-1]
    driver.find_element(By.CSS_SELECTOR, f"#filter-kind option[value='{kind}']").click()
    shown = _visible(driver, "#layers tbody tr")
    assert shown == int((table_frame(small_report)["kind"] == kind).sum())
    sections = _visible(driver, "details.layer")
    assert sections == int((kinds == kind).sum())
    driver.find_element(By.CSS_SELECTOR, "#filter-kind option[value='']").click()

    # screenshot for CI artifacts and for people
    shot = tmp_path_factory.getbasetemp() / "report.png"
    driver.execute_script("window.scrollTo(0, 0);")
    height = _js(driver, "return document.body.scrollHeight;")
    driver.set_window_size(1400, min(int(height) + 100, 6000))
    assert driver.save_screenshot(str(shot))
    assert Path(shot).stat().st_size > 10_000
    print(f"screenshot: {shot}")

    # no console errors (CSP violations of a non-self-contained file would show here)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
