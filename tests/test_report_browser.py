"""The HTML report opened in a real browser: Debian's Chromium, headless.

The report promises to be one self-contained file (figures as data: URIs, inline
CSS, no scripts), so that it can be mailed or archived and still show
everything. Here Chromium opens a copy of it alone in an empty folder, with
every network request sent to a dead proxy, and reports from inside the page
whether each figure decoded (its natural size is the PNG's) and where each one
came from. Links may point only to sections of the page or, in "Files for QGIS",
to the result files beside the report, by relative path. Install Chromium with
.ci/setup_chromium.sh; the module skips only where Chromium is missing and CI is
unset, as tests/test_qgis.py does for QGIS. Screenshots go to pytest's tmp_path.
"""

import base64
import html
import json
import os
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from urllib.parse import unquote, urlparse

import numpy as np
import pytest
from matplotlib.image import imread

from pipeline.report import ReportInputs, build_report
from test_report import results  # noqa: F401  (the synthetic results folder, every file the report reads)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"),
                                reason="Chromium is not installed; see .ci/setup_chromium.sh")

# Added to the copy Chromium opens (the report itself has no script): after the
# load event, what the browser made of the page, as JSON in a <pre>.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({
    src: i.currentSrc.slice(0, 22), file: i.dataset.file || "", complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight, shown: i.getBoundingClientRect().width}));
  const sheets = [...document.styleSheets].map(s => s.href);
  const frames = document.querySelectorAll("iframe, frame, object, embed, video, audio, source").length;
  const out = document.createElement("pre");
  out.id = "browser-probe";
  out.textContent = JSON.stringify({images, sheets, frames, title: document.title});
  document.body.appendChild(out);
});
</script>"""


def chromium(*args, profile):
    """Run headless Chromium; every request that is not a file or data: URI goes to
    a closed local port, so nothing on the network can load."""
    cmd = [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--proxy-server=127.0.0.1:9", f"--user-data-dir={profile}", *args]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, f"chromium failed ({run.returncode}):\n{run.stderr[-3000:]}"
    return run.stdout


class _Refs(HTMLParser):
    """Every attribute that can make a browser fetch or navigate, and every id."""

    FETCH = {"src", "srcset", "poster", "data", "background", "action", "formaction", "manifest", "codebase"}

    def __init__(self):
        super().__init__()
        self.fetch, self.hrefs, self.ids, self.tags = [], [], set(), set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        for name, value in attrs:
            if name == "id":
                self.ids.add(value)
            elif name in ("href", "xlink:href"):
                self.hrefs.append((tag, value))
            elif name in self.FETCH:
                self.fetch.append((tag, name, value))


@pytest.fixture(scope="module")
def report(results, tmp_path_factory):  # noqa: F811
    """report.html built where the workflow puts it, results/{dataset}/report/."""
    out = results / "report" / "report.html"
    build_report(ReportInputs.from_results(results), out, results / "report" / "figures", dataset="demo",
                 settings={"tiles": {"window": 16}})
    return out


def _png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_nothing_in_the_report_points_outside_it(report, results):  # noqa: F811
    page = report.read_text()
    refs = _Refs()
    refs.feed(page)
    assert not refs.tags & {"script", "link", "iframe", "frame", "object", "embed", "base"}
    assert 'http-equiv' not in page.lower()
    assert refs.fetch and all(name == "src" and value.startswith("data:image/png;base64,")
                              for _, name, value in refs.fetch), [r[:2] + (r[2][:40],) for r in refs.fetch]
    css = " ".join(re.findall(r"<style>(.*?)</style>", page, re.S)) + " ".join(re.findall(r'style="([^"]*)"', page))
    assert not re.search(r"url\(|@import", css)
    anchors = [href for _, href in refs.hrefs if href.startswith("#")]
    assert anchors and all(href[1:] in refs.ids for href in anchors), set(anchors) - {f"#{i}" for i in refs.ids}
    files = [href for _, href in refs.hrefs if not href.startswith("#")]
    assert files, "the report lists the files for QGIS"
    root = results.resolve()
    for href in files:
        parsed = urlparse(href)
        assert not parsed.scheme and not parsed.netloc and not href.startswith("/"), href  # relative only
        target = (report.parent / unquote(parsed.path)).resolve()
        assert target.is_relative_to(root) and target.is_file(), href  # a result file of this dataset
    assert any(h.endswith("_uncertainty.tif") for h in files) and any(h.endswith("_uncertainty.qml") for h in files)


def test_every_figure_loads_in_chromium(report, tmp_path):
    page = report.read_text()
    expected = {name: _png_size(base64.b64decode(data)) for data, name in re.findall(
        r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"[^>]*data-file="([^"]+)"', page)}
    assert len(expected) >= 12 and "uncertainty.png" in expected
    # alone in an empty folder: a figure that needed any other file could not load
    alone = tmp_path / "alone"
    alone.mkdir()
    probed = alone / "report.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"))
    dom = chromium("--virtual-time-budget=10000", "--window-size=1280,2000", "--dump-dom", probed.as_uri(),
                   profile=tmp_path / "profile")
    found = re.search(r'<pre id="browser-probe">(.*?)</pre>', dom, re.S)
    assert found, f"the page's load event never ran:\n{dom[-2000:]}"
    probe = json.loads(html.unescape(found.group(1)))
    assert probe["title"].startswith("Prospectivity report")
    assert probe["sheets"] == [None] and probe["frames"] == 0          # the inline <style> only
    assert {i["file"] for i in probe["images"]} == set(expected)
    for image in probe["images"]:
        assert image["src"] == "data:image/png;base64,", image
        assert image["complete"] and (image["width"], image["height"]) == expected[image["file"]], image
        assert image["shown"] > 0, image                                  # laid out, not collapsed


def test_screenshot_of_the_report_is_not_blank(report, tmp_path):
    shot = tmp_path / "report.png"                                        # never inside the repository
    chromium("--virtual-time-budget=10000", "--window-size=1280,1600", "--hide-scrollbars",
             f"--screenshot={shot}", report.as_uri(), profile=tmp_path / "profile")
    pixels = imread(shot)
    assert pixels.shape[:2] == (1600, 1280)
    rgb = pixels[..., :3]
    assert rgb.std() > 0.05                                               # text and figures, not one colour
    assert (np.abs(rgb - rgb.mean(axis=2, keepdims=True)).max(axis=2) > 0.2).mean() > 0.01  # colour: a map shows
