"""Ten clinicians at once, in real browsers: one ``streamlit run app.py`` server, concurrent Chromium sessions.

    python -m benchmarks.load_test [--sessions 10] [--files-per-session 2] [--out weights/load_test.json]

First the cold start: the server is started, one browser opens it, and the time until the server answers, until
the uploader is visible and until a first upload's result is visible is measured from the server's start. Then
``sessions`` Playwright contexts of one headless Debian Chromium (their own cookies, as separate clinicians) each
sign in through a local OpenID Connect provider (``oidc-provider-mock``, loopback only), upload their own
``files_per_session`` slices, wait for the results, download the table and check that every row is the answer for
that session's own files, open a gradient heatmap, type a patient name and download the slice's PDF report.
Per step p50/p95/max, failures and the server's peak RSS go to the JSON; afterwards the audit trail is read back:
every analysis and report download of the run must be there, and neither an image's bytes nor the patient name.

The slices are Kaggle test images (the first of each class, in name order) when the data folder is present, else
generated ones. The browsers share the machine's cores with the server, as they would not in a clinic.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import os
import secrets
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    VIEWPORT,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    peak_rss_bytes,
    streamlit_process,
)
from core.app.audit import AuditStore
from core.models.cards import WEIGHTS_DIR, WEIGHTS_ENV, data_dir, write_evaluation
from training.common import add_config_arguments, cli_overrides, config_from_args, run_metadata, synthetic_slice

KAGGLE_TEST = Path("brain-tumor-mri-4class") / "Testing"
PATIENT_NAME = "Zażółć Load-Test"
STEPS = ("open", "upload_to_result", "table_check", "heatmap", "report")
TEXT_COLUMNS = ("File", "Tumour type", "Tumour present", "Area (px)", "Problem")
NUMBER_COLUMNS = ("Confidence (%)", "Probability (%)")
SCREENSHOTS_ENV = "LOAD_TEST_SCREENSHOTS"
"""A folder for a screenshot of every failed session, when set."""


@dataclass(frozen=True)
class LoadConfig:
    sessions: int = 10
    files_per_session: int = 2
    step_timeout_s: float = 120.0
    """Longest wait for one step of one session before it counts as failed."""


@dataclass
class SessionResult:
    """One session's step durations (seconds) and the problems it met (empty when it succeeded)."""

    seconds: dict[str, float] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and set(self.seconds) == set(STEPS)


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes
    expected: dict[str, str]
    """The table row the page must show for it: :data:`TEXT_COLUMNS` and :data:`NUMBER_COLUMNS` as CSV text."""


def slice_files(count: int) -> list[tuple[str, bytes]]:
    """``count`` distinct slices: Kaggle test images taken round-robin over the classes, else generated PNGs."""
    root = data_dir() / KAGGLE_TEST
    if root.is_dir():
        classes = [sorted(folder.glob("*.jpg")) for folder in sorted(root.iterdir()) if folder.is_dir()]
        picked = [paths[index // len(classes)] for index in range(count)
                  for paths in [classes[index % len(classes)]]]
        return [(f"{path.parent.name}_{path.name}", path.read_bytes()) for path in picked]
    files = []
    for index in range(count):
        buffer = io.BytesIO()
        pixels = synthetic_slice(256, seed=index).pixels
        Image.fromarray((pixels * 255).astype(np.uint8), mode="L").save(buffer, format="PNG")
        files.append((f"generated_{index:02d}.png", buffer.getvalue()))
    return files


def expected_uploads(files: Sequence[tuple[str, bytes]], weights: Path, count: int) -> tuple[list[Upload], str]:
    """The first ``count`` files that the input guard passes, each with the table row the app computes for it (here,
    with the same models and code path), and a heatmap method other than the network's default, so that choosing it
    computes a new heatmap. Flagged slices are left out: their results are hidden, so there is no heatmap to open
    (the guard is measured by its own evaluation, weights/ood.json)."""
    from core.app import session_results as sr
    from core.models.analysis import analyse_file
    from core.models.cards import TUMOUR_NET
    from core.models.gradcam import available_methods, default_method
    from core.models.installed import load_installed

    installed = load_installed(weights)
    results = [analyse_file(data, name, installed.models, None, installed.detector)
               for name, data in files]
    passed = [result for result in results if result.analysis is not None and not result.analysis.ood][:count]
    if len(passed) < count:
        raise ValueError(f"Only {len(passed)} of {len(files)} slices pass the input guard; {count} are needed.")
    rows = list(csv.DictReader(io.StringIO(sr.csv_bytes(sr.results_table(passed)).decode("utf-8-sig"))))
    data = dict(files)
    network = installed.models[TUMOUR_NET]
    method = next(m for m in available_methods(network) if m != default_method(network) and "CAM" in m)
    return [Upload(result.name, data[result.name], row) for result, row in zip(passed, rows, strict=True)], method


def table_problems(csv_text: str, uploads: Sequence[Upload]) -> list[str]:
    """What differs between the downloaded table and the answers for ``uploads`` (numbers within 0.01 points)."""
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    if [row["File"] for row in rows] != [upload.name for upload in uploads]:
        return [f"the table lists {[row['File'] for row in rows]}"]
    problems = []
    for row, upload in zip(rows, uploads, strict=True):
        wrong = [column for column in TEXT_COLUMNS if row[column] != upload.expected[column]]
        wrong += [column for column in NUMBER_COLUMNS
                  if (row[column] or upload.expected[column]) and
                  abs(float(row[column] or "nan") - float(upload.expected[column] or "nan")) > 0.01]
        problems += [f"{upload.name}: {column} is {row[column]!r}, expected {upload.expected[column]!r}"
                     for column in wrong]
    return problems


async def wait_idle(page, timeout_ms: float) -> None:
    """Until the script run that drew the expected content has finished (Streamlit's own e2e signal)."""
    from playwright.async_api import expect

    await expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning",
                                                                  timeout=timeout_ms)


async def rerun_done(page, timeout_ms: float) -> None:
    """Until the rerun an input just asked for has started (if it is not over already) and finished."""
    from playwright.async_api import expect

    with suppress(AssertionError):
        await expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "running",
                                                                      timeout=2000)
    await wait_idle(page, timeout_ms)


async def download(page, label: str, timeout_ms: float) -> bytes:
    await wait_idle(page, timeout_ms)
    async with page.expect_download(timeout=timeout_ms) as info:
        await page.get_by_test_id("stDownloadButton").filter(has_text=label).get_by_role("button").click()
    return Path(await (await info.value).path()).read_bytes()


async def choose(page, label: str, option: str, timeout_ms: float) -> None:
    """Pick ``option`` in the select box ``label``; the first click after a download sometimes opens nothing, so
    the box is clicked again until the option shows (within ``timeout_ms``)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    deadline = time.perf_counter() + timeout_ms / 1000
    while True:
        await page.get_by_role("combobox", name=label).click(timeout=timeout_ms)
        try:
            await page.get_by_role("option", name=option, exact=True).click(timeout=2000)
            return
        except PlaywrightTimeout:
            if time.perf_counter() > deadline:
                raise


def caption(page, text: str):
    return page.get_by_test_id("stImageCaption").filter(has_text=text)


class Session:
    """One clinician's browser context and the timing of each step of their visit."""

    def __init__(self, context, url: str, user: str | None, timeout_s: float) -> None:
        self.context, self.url, self.user, self.timeout_ms = context, url, user, timeout_s * 1000
        self.result, self.current = SessionResult(), "open"

    @contextmanager
    def step(self, name: str):
        started, self.current = time.perf_counter(), name
        yield
        self.result.seconds[name] = time.perf_counter() - started

    async def visit(self, uploads: Sequence[Upload], heatmap_method: str) -> SessionResult:
        from playwright.async_api import expect

        page = await self.context.new_page()
        timeout = self.timeout_ms
        try:
            with self.step("open"):
                await page.goto(self.url)
                if self.user is not None:
                    await page.get_by_role("button", name="Sign in").click(timeout=timeout)
                    await page.get_by_role("button", name=self.user, exact=True).click(timeout=timeout)
                    await page.wait_for_url(f"{self.url}/**", timeout=timeout)
                await expect(page.get_by_test_id("stFileUploaderDropzone")).to_be_visible(timeout=timeout)
            with self.step("upload_to_result"):
                await page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
                    [{"name": u.name, "mimeType": "image/jpeg", "buffer": u.data} for u in uploads])
                results = f"Results for {len(uploads)} file{'s' if len(uploads) > 1 else ''}"
                await expect(page.get_by_text(results)).to_be_visible(timeout=timeout)
                await expect(caption(page, "Tumour region")).to_be_visible(timeout=timeout)
                await wait_idle(page, timeout)
            with self.step("table_check"):
                table = (await download(page, "Download table (CSV)", timeout)).decode("utf-8-sig")
                self.result.problems += table_problems(table, uploads)
            with self.step("heatmap"):
                await choose(page, "Heatmap method", heatmap_method, timeout)
                await expect(caption(page, f"Where the network looked ({heatmap_method})")).to_be_visible(
                    timeout=timeout)
                await wait_idle(page, timeout)
            self.current = "patient name"
            await page.get_by_text("Patient and study details for the PDF report").click(timeout=timeout)
            await page.get_by_label("Patient name").fill(PATIENT_NAME, timeout=timeout)
            await page.get_by_label("Patient name").press("Enter")  # commits the field: a rerun, awaited next
            await rerun_done(page, timeout)
            with self.step("report"):
                report = await download(page, "Download PDF report (this slice)", timeout)
                if not report.startswith(b"%PDF"):
                    self.result.problems.append("the report is not a PDF")
        except Exception as err:  # a timeout or a missing element: this session failed, the others go on
            self.result.problems.append(f"{self.current}: {type(err).__name__}: {str(err).splitlines()[0]}")
            if SCREENSHOTS_ENV in os.environ:
                await page.screenshot(path=Path(os.environ[SCREENSHOTS_ENV]) / f"{self.user}_{self.current}.png")
        finally:
            await self.context.close()
        return self.result


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "count": 0}
    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2),
            "max": round(float(np.max(values)), 2), "count": len(values)}


async def visits(url: str, users: Sequence[str | None], uploads: Sequence[Sequence[Upload]], method: str,
                 config: LoadConfig) -> list[SessionResult]:
    """One browser, one context per user, every visit at once."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            sessions = [Session(await browser.new_context(viewport=VIEWPORT, accept_downloads=True), url, user,
                                config.step_timeout_s) for user in users]
            return list(await asyncio.gather(*(session.visit(files, method)
                                               for session, files in zip(sessions, uploads, strict=True))))
        finally:
            await browser.close()


def cold_start(weights: Path, upload: Upload, method: str, config: LoadConfig, log: Path) -> dict[str, float]:
    """A fresh local-mode server and one visit: seconds from its start until it answers, from then until the
    uploader is visible, and from its start until the first upload's result is visible."""
    with streamlit_process({**os.environ, WEIGHTS_ENV: str(weights)}, log) as server:
        answered = server.answered_at - server.started_at
        result = asyncio.run(visits(server.url, [None], [[upload]], method, config))[0]
    if result.problems:
        raise RuntimeError(f"the cold-start visit failed: {result.problems}")
    return {"server_answers_s": round(answered, 2),
            "uploader_visible_after_answer_s": round(result.seconds["open"], 2),
            "first_result_from_server_start_s": round(answered + result.seconds["open"]
                                                      + result.seconds["upload_to_result"], 2)}


def auth_secrets(port: int, provider: str, audit: Path) -> str:
    """``[auth]``, ``[access]`` and ``[audit]`` secrets for a server on ``port`` signing in through ``provider``."""
    return f"""
[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "{secrets.token_hex(32)}"
client_id = "brain-mri-dashboard"
client_secret = "client-{secrets.token_hex(16)}"
server_metadata_url = "{provider}/.well-known/openid-configuration"

[access]
allowed_domains = ["hospital.example"]
admin_group = "mri-admins"
ask = "the radiology IT service desk"

[audit]
folder = "{audit}"
"""


@contextmanager
def identity_provider(users: Sequence[str]):
    """A local OpenID Connect provider in a thread whose login form offers ``users`` (as buttons); yields its URL."""
    import oidc_provider_mock as oidc

    claims = [oidc.User(sub=user, claims={"email": f"{user}@hospital.example", "email_verified": True})
              for user in users]
    with oidc.run_server_in_thread(port=free_port(), user_claims=claims) as server:
        yield f"http://localhost:{server.server_port}"


def audit_check(folder: Path, uploads: Sequence[Sequence[Upload]], sessions: Sequence[SessionResult]) -> dict:
    """Every analysis and download (table and report) of the visits is in the audit trail; no image byte and no
    patient name is."""
    rows = AuditStore(folder).read()
    analysed = rows.query("event == 'analysis'")["file_name"]
    stored = b"".join(path.read_bytes() for path in folder.iterdir() if path.is_file())
    files = [upload for visit in uploads for upload in visit]
    return {"analyses_recorded": len(analysed), "analyses_expected": len(files),
            "every_upload_recorded": set(analysed) >= {upload.name for upload in files},
            "downloads_recorded": int((rows["event"] == "download").sum()),
            "downloads_expected": sum(("table_check" in s.seconds) + ("report" in s.seconds) for s in sessions),
            "image_bytes_stored": sum(upload.data[-64:] in stored for upload in files),
            "patient_name_stored": PATIENT_NAME.encode() in stored}


def signed_in_visits(weights: Path, warm_up: Sequence[Upload], uploads: Sequence[Sequence[Upload]], method: str,
                     config: LoadConfig, folder: Path) -> tuple[list[SessionResult], dict, float, dict]:
    """A server with sign-in and the audit trail: a warm-up visit with its own files, then every session at once.
    Returns the sessions' results, the audit check of every visit, the server's peak RSS (MB) and the concurrent
    part's wall time with the CPU time the server and the whole machine (browsers included) spent in it (s)."""
    users = [f"clinician{number:02d}" for number in range(len(uploads))]
    with identity_provider(users) as provider:
        port = free_port()
        (folder / "secrets.toml").write_text(auth_secrets(port, provider, folder / "audit"), encoding="utf-8")
        with streamlit_process({**os.environ, WEIGHTS_ENV: str(weights)}, folder / "server.log", "--secrets.files",
                               str(folder / "secrets.toml"), port=port) as server:
            first = asyncio.run(visits(server.url, users[:1], [warm_up], method, config))
            started, server_cpu, machine_cpu = time.perf_counter(), cpu_seconds(server.process), machine_busy_seconds()
            results = asyncio.run(visits(server.url, users, uploads, method, config))
            wall_s = time.perf_counter() - started
            timing = {"wall_s": round(wall_s, 1), "cores": os.cpu_count(),
                      "server_cpu_s": _spent(cpu_seconds(server.process), server_cpu),
                      "machine_cpu_s": _spent(machine_busy_seconds(), machine_cpu)}
            peak_mb = (peak_rss_bytes(server.process) or 0) / 2**20
    audit = audit_check(folder / "audit", [warm_up, *uploads], [*first, *results])
    return results, audit, round(peak_mb, 1), timing


def _spent(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else round(now - before, 1)


def run_load_test(weights: Path, config: LoadConfig) -> dict:
    """The cold start on a fresh server, then the concurrent signed-in sessions on another, summarised."""
    per_session = config.files_per_session
    needed = 1 + (config.sessions + 1) * per_session
    expected, method = expected_uploads(slice_files(2 * needed), weights, needed)
    cold, warm_up, rest = expected[0], expected[1:1 + per_session], expected[1 + per_session:]
    uploads = [rest[n * per_session:(n + 1) * per_session] for n in range(config.sessions)]
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        cold_times = cold_start(weights, cold, method, config, folder / "cold.log")
        results, audit, peak_mb, timing = signed_in_visits(weights, warm_up, uploads, method, config, folder)
    return {
        "task": "concurrent browser sessions on one server (load test)",
        "config": asdict(config),
        "images": "Kaggle test slices" if (data_dir() / KAGGLE_TEST).is_dir() else "generated slices",
        "weights_present": sorted(path.name for path in Path(weights).glob("*.keras")),
        "heatmap_method_opened": method,
        "cold_start": cold_times,
        "sessions_ok": sum(result.ok for result in results),
        "sessions": config.sessions,
        "problems": [problem for result in results for problem in result.problems],
        "step_seconds": {step: percentiles([r.seconds[step] for r in results if step in r.seconds])
                         for step in STEPS},
        "server_peak_rss_mb": peak_mb,
        "audit": audit,
        "concurrent_part": timing,
        "wall_time_s": timing["wall_s"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=WEIGHTS_DIR)
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR / "load_test.json")
    add_config_arguments(parser, LoadConfig)
    args = parser.parse_args(argv)
    config = config_from_args(args, LoadConfig())
    summary = run_load_test(args.weights, config)
    summary["run"] = run_metadata(["benchmarks.load_test", *cli_overrides(config)], summary["wall_time_s"])
    write_evaluation(summary, args.out)
    result = summary["step_seconds"]["upload_to_result"]
    print(f"{summary['sessions_ok']}/{summary['sessions']} sessions succeeded; upload -> result p50 {result['p50']} s, "
          f"p95 {result['p95']} s; server peak RSS {summary['server_peak_rss_mb']} MB; cold start "
          f"{summary['cold_start']}; audit {summary['audit']}; wrote {args.out}")
    for problem in summary["problems"]:
        print(f"  {problem}")


if __name__ == "__main__":
    main()
