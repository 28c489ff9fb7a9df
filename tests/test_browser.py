"""A clinician's journey in a real browser: open the app, upload two slices, read and adjust the results, download
the table and a report, and visit every page, with no exception anywhere; and a study: upload a volume, browse its
slices, download its report.

Runs the real ``streamlit run app.py`` server on the tiny test models and drives Debian's ``/usr/bin/chromium``
through Playwright (no ``playwright install``). Screenshots are kept in the test's tmp folder and copied to
:data:`SCREENS_COPY` for a human look.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    RESULT_MS,
    assert_no_exception,
    caption,
    download,
    needs_chromium,
    snap,
    streamlit_server,
    wait_idle,
)
from helpers import brain_slice, encode
from study_builders import nifti_study

from core.models.cards import WEIGHTS_ENV

SCREENS_COPY = Path("/tmp/screens")
UPLOADS = {"first.png": brain_slice(256, 256, seed=1), "second.png": brain_slice(200, 240, seed=2)}

pytestmark = [pytest.mark.browser, needs_chromium]
playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect


@pytest.fixture
def app_url(tiny_weights, tmp_path) -> Iterator[str]:
    """The URL of ``streamlit run app.py`` serving the tiny models; the server is stopped afterwards."""
    with streamlit_server({**os.environ, WEIGHTS_ENV: str(tiny_weights)}, tmp_path / "server.log") as url:
        yield url


def test_upload_two_slices_adjust_download_and_visit_every_page(app_url, page, screens, tmp_path):
    files = []
    for name, pixels in UPLOADS.items():
        files.append(tmp_path / name)
        files[-1].write_bytes(encode(pixels))

    page.goto(app_url)
    expect(page.get_by_role("heading", name="Analyse")).to_be_visible(timeout=RESULT_MS)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(files)
    expect(caption(page, "Tumour region (red)")).to_be_visible(timeout=RESULT_MS)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("glioma")
    expect(page.get_by_text("Results for 2 files")).to_be_visible()
    expect(page.get_by_text("Its tumour probability, one minus that of no tumour")).to_be_visible()
    expect(caption(page, "Where the network looked (Grad-CAM++)")).to_be_visible()
    assert_no_exception(page)
    snap(page, screens / "1_analyse_results.png")

    page.get_by_test_id("stCheckbox").filter(has_text="Tumour overlay").locator("label").click()
    expect(caption(page, "Tumour region (overlay off)")).to_be_visible(timeout=RESULT_MS)
    assert_no_exception(page)
    snap(page, screens / "2_overlay_off.png")

    first_area = page.get_by_test_id("stMetricValue").nth(2).inner_text()
    page.get_by_role("combobox", name="Slice to view").fill("second")  # type to filter, as a user can
    page.get_by_role("option", name="second.png").click()
    expect(page.get_by_role("combobox", name="Slice to view")).to_have_value("second.png")
    expect(page.get_by_test_id("stMetricValue").nth(2)).not_to_have_text(first_area, timeout=RESULT_MS)
    assert_no_exception(page)
    snap(page, screens / "3_second_slice.png")

    rows = list(csv.DictReader(io.StringIO(download(page, "Download table (CSV)").decode("utf-8-sig"))))
    assert [row["File"] for row in rows] == list(UPLOADS)
    assert {row["Tumour type"] for row in rows} == {"glioma"} and {row["Problem"] for row in rows} == {""}
    assert f"{int(rows[1]['Area (px)']):,} px" == page.get_by_test_id("stMetricValue").nth(2).inner_text()
    assert download(page, "Download PDF report (this slice)").startswith(b"%PDF")

    for number, title in enumerate(["Model performance", "Model card", "Analyse"], start=4):
        page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=RESULT_MS)
        assert_no_exception(page)
        snap(page, screens / f"{number}_{title.lower().replace(' ', '_')}.png")


def test_study_upload_browse_slices_and_download_the_report(app_url, page, screens, tmp_path):
    study = tmp_path / "cube.nii"
    study.write_bytes(nifti_study(("I", "L", "P"))[0])
    page.goto(app_url)
    # the navigation is app.py's once the default page is drawn (before that Streamlit lists the app_pages/ files)
    expect(page.get_by_role("heading", name="Analyse")).to_be_visible(timeout=RESULT_MS)
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Study").click()
    expect(page.get_by_role("heading", name="Study", exact=True)).to_be_visible(timeout=RESULT_MS)
    expect(page.get_by_test_id("stSidebar").get_by_text("Models", exact=True)).to_be_visible()  # through app.py
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(study)
    expect(page.get_by_test_id("stMetricValue").first).to_have_text("0.60 ml", timeout=RESULT_MS)
    expect(page.get_by_text("Slice 3 (0 to 7): tumour present")).to_be_visible()
    expect(page.locator(".js-plotly-plot")).to_have_count(3)  # type probabilities, the curve, the 3D view
    assert_no_exception(page)
    wait_idle(page)

    page.get_by_role("slider").first.focus()
    started = time.monotonic()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => document.body.innerText.includes('Slice 4 (0 to 7)')", polling="raf",
                           timeout=RESULT_MS)
    print(f"browser slider move: {(time.monotonic() - started) * 1000:.0f} ms")
    expect(caption(page, "Slice 4")).to_be_visible()
    page.get_by_test_id("stCheckbox").filter(has_text="Heatmap of this slice").locator("label").click()
    expect(caption(page, "Where the network looked (Grad-CAM++)")).to_be_visible(timeout=RESULT_MS)
    assert_no_exception(page)
    snap(page, screens / "7_study.png")
    assert download(page, "Download study report (PDF)").startswith(b"%PDF")


@pytest.mark.parametrize(("path", "heading"), [("performance", "Model performance"), ("model_card", "Model card")])
def test_a_deep_link_on_a_fresh_server_shows_the_page_inside_the_app_frame(app_url, page, screens, path, heading):
    """The first request of a new server goes straight to a page: it must still run through app.py (navigation,
    sidebar, sign-in gate), which Streamlit's legacy ``pages/`` folder discovery would bypass."""
    page.goto(f"{app_url}/{path}")
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=RESULT_MS)
    navigation = page.get_by_test_id("stSidebarNav")
    expect(navigation.get_by_text("Analyse", exact=True)).to_be_visible()
    expect(navigation.get_by_text("Model performance", exact=True)).to_be_visible()
    expect(page.get_by_text("local mode: no sign-in")).to_be_visible()
    assert navigation.get_by_text("access ui").count() == 0
    snap(page, screens / f"deep_link_{path}.png")
