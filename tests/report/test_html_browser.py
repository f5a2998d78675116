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
from htsr.rmt import gaussian_matrix, low_rank_matrix, pareto_matrix, spiked_matrix

pytestmark = pytest.mark.browser

#: Seconds to wait for the charts of the opened sections (a few milliseconds each measured).
CHART_TIMEOUT = 10.0


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
    return htsr.analyze(model, randomize=True, rng=0)


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
            .map(r => r.cells[col].textContent);""",
    )


#: Share of a chart canvas's pixels that are painted (not transparent) once drawn: axes, grid
#: and data cover a few percent of a 420 x 270 canvas; an empty canvas has none.
_PAINTED = """
return Array.from(document.querySelectorAll(arguments[0])).map(c => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0;
  return n / (c.width * c.height);
});"""


def test_browser_report(page, small_report, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    driver = page
    matrices = small_report.layers[small_report.layers["kind"] != "vector"]
    analysed = small_report.analysed
    # one table row per matrix (the bias is not a layer), one section per analysed layer
    assert len(driver.find_elements(By.CSS_SELECTOR, "#layers tbody tr")) == len(matrices) == 5
    assert len(driver.find_elements(By.CSS_SELECTOR, "details.layer")) == len(analysed)

    # the model charts are drawn at once, the layer charts only when a section is opened
    assert _js(driver, "return document.querySelectorAll('#model canvas').length;") == 2
    assert _js(driver, "return document.querySelectorAll('details.layer canvas').length;") == 0
    assert min(_js(driver, _PAINTED.replace("arguments[0]", "'#model canvas'"))) > 0.01

    # hovering the alpha chart names the layer under the cursor
    over = driver.find_element(By.CSS_SELECTOR, "#model-alpha .u-over")
    ActionChains(driver).move_to_element_with_offset(
        over, -over.size["width"] // 2 + 2, 0
    ).perform()
    readout = driver.find_element(By.ID, "model-readout").text
    assert readout.startswith("#0") and str(matrices["name"].iloc[0]) in readout

    # every layer's three charts drawn (non-empty canvases) once the sections are opened and in
    # view (a window tall enough for all of them)
    driver.set_window_size(1400, 6000)
    driver.find_element(By.ID, "expand-all").click()
    deadline = time.monotonic() + CHART_TIMEOUT
    painted: list[float] = []
    while time.monotonic() < deadline:
        painted = driver.execute_script(_PAINTED, "details.layer canvas")
        if len(painted) == 3 * len(analysed):
            break
        time.sleep(0.1)
    assert len(painted) == 3 * len(analysed), painted
    assert min(painted) > 0.01, painted
    # the series are there: the fit line and the randomized ESD in the legends
    legends = _js(
        driver,
        "return Array.from(document.querySelectorAll('details.layer .u-legend'))"
        ".map(l => l.textContent);",
    )
    assert sum("power law" in t for t in legends) >= len(analysed)
    assert sum("randomized" in t for t in legends) == len(analysed)

    # sorting by alpha: ascending, then descending; missing values stay last
    header = next(
        h for h in driver.find_elements(By.CSS_SELECTOR, "#layers th") if h.text.startswith("alpha")
    )
    header.click()
    values = [v for v in _alpha_values(driver) if v != "-"]
    assert len(values) >= 3
    assert [float(v) for v in values] == sorted(float(v) for v in values)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    values = [v for v in _alpha_values(driver) if v != "-"]
    assert [float(v) for v in values] == sorted((float(v) for v in values), reverse=True)

    # filter by kind: the table and the sections follow
    kind = analysed["kind"].value_counts().index[-1]
    driver.find_element(By.CSS_SELECTOR, f"#filter-kind option[value='{kind}']").click()
    assert _visible(driver, "#layers tbody tr") == int((matrices["kind"] == kind).sum())
    assert _visible(driver, "details.layer") == int((analysed["kind"] == kind).sum())
    driver.find_element(By.CSS_SELECTOR, "#filter-kind option[value='']").click()
    # filter by name
    name_box = driver.find_element(By.ID, "filter-name")
    name_box.send_keys("mlp")
    assert _visible(driver, "#layers tbody tr") == int(matrices["name"].str.contains("mlp").sum())
    _js(
        driver,
        "const b = document.getElementById('filter-name'); b.value = '';"
        "b.dispatchEvent(new Event('input'));",
    )
    assert _visible(driver, "#layers tbody tr") == len(matrices)

    # screenshot for CI artifacts and for people
    shot = tmp_path_factory.getbasetemp() / "report.png"
    driver.execute_script("window.scrollTo(0, 0);")
    height = _js(driver, "return document.body.scrollHeight;")
    driver.set_window_size(1400, min(int(height) + 100, 6000))
    assert driver.save_screenshot(str(shot))
    assert Path(shot).stat().st_size > 10_000
    print(f"screenshot: {shot}")

    # no console errors (a CSP violation or a script error would show here)
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
