"""AnnotationPreview in JupyterLab 4 and Notebook 7: overlays drawn, browse, gallery, compare.

The backend runs in the test process; the notebook reads its URL and token from
``synapse-server.json`` next to the notebook (so neither shows up in a screenshot). The test
reads the pixels of the rendered ``<img>`` back through a canvas to check that overlays in
the expected colours reached the page, and drives the widget with real clicks.

The demo's photos are JPEGs, so the widget (``image_format="auto"``) sends JPEGs: a colour
counts within :data:`TOLERANCE` levels per channel, what quality 90 without chroma
subsampling keeps along the outlines (exact colours are checked on PNGs in
``tests/widgets``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from synapse_nb.server import ServerHandle, start
from synapse_nb.widgets._colors import EXTRA, MATCHED, MISSED, class_color

from .browser_helpers import expect

# a notebook run plus the clicks take about 10 s, more on a loaded machine
pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRONTENDS = pytest.mark.parametrize("frontend", ["lab", "notebook"])

CELLS = [
    "# %% md\n# AnnotationPreview against the embedded backend",
    """\
import json
from synapse_nb.frames import Client
from synapse_nb.widgets import AnnotationPreview

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])
gt = client.list_ground_truth_events({"ground_truth_dataset_versions": [1]}, list_all=True)
preds = client.list_ground_truth_events({"ground_truth_dataset_versions": [3]}, list_all=True)""",
    "AnnotationPreview(gt)",
    "AnnotationPreview(gt, compare=preds, compare_labels=('GT v1', 'yolo-v8n'))",
]

#: Largest difference per channel for a pixel of an overlay colour in a JPEG preview.
TOLERANCE = 8

#: Number of pixels of one colour (within ``tol`` per channel) in an <img>, via a canvas.
COUNT_COLOR_JS = """
([img, rgb, tol]) => {
  const canvas = document.createElement("canvas");
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext("2d");
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - rgb[0]) <= tol && Math.abs(data[i + 1] - rgb[1]) <= tol
        && Math.abs(data[i + 2] - rgb[2]) <= tol) n++;
  }
  return n;
}
"""


@pytest.fixture(scope="module")
def backend() -> Iterator[ServerHandle]:
    """A demo workspace the notebooks only read."""
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


def write_connection(notebooks, frontend: str, srv: ServerHandle) -> None:
    folder = notebooks.server(frontend).notebook_dir
    (folder / "synapse-server.json").write_text(json.dumps({"url": srv.url, "token": srv.token}))


def color_pixels(img, rgb) -> int:
    """Pixels of colour ``rgb`` in the loaded image ``img`` (a Locator of an <img>)."""
    expect(img).to_have_js_property("complete", True)
    script = "(el, [rgb, tol]) => (" + COUNT_COLOR_JS + ")([el, rgb, tol])"
    return img.evaluate(script, [list(rgb), TOLERANCE])


def image_type(img) -> str:
    """The MIME type the frontend gave the image's bytes (from the widget's format trait)."""
    return img.evaluate("async (el) => (await (await fetch(el.src)).blob()).type")


@FRONTENDS
def test_preview_draws_browses_and_compares(notebooks, frontend, backend):
    write_connection(notebooks, frontend, backend)
    nbp = notebooks.run(frontend, f"preview-{frontend}", CELLS)
    nbp.assert_ran_cleanly()

    single = nbp.output(2)
    image = single.locator("img.snb-preview-image")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("naturalWidth", 960)  # scene_0000: 1280x720 shown at 960
    assert image_type(image) == "image/jpeg"
    names = single.locator(".snb-class-name")
    expect(names.first).to_be_visible()
    classes = [re.sub(r"\s*\(\d+\)$", "", t).strip() for t in names.all_inner_texts()]
    assert "car" in classes and "person" in classes
    # a class whose colour no other class in the image shares (colours are hashed)
    colors = [class_color(c) for c in classes]
    target = next(c for c, rgb in zip(classes, colors, strict=True) if colors.count(rgb) == 1)
    before = color_pixels(image, class_color(target))
    assert before > 50, f"no {target} overlay reached the page"
    nbp.screenshot("-single", target=single)

    # hide it with its legend checkbox: its colour leaves the image
    checkbox = single.locator(".snb-class-toggle input").nth(classes.index(target))
    checkbox.click()
    expect(checkbox).not_to_be_checked()
    _wait_for(lambda: color_pixels(image, class_color(target)) < before / 4)

    single.locator("button", has_text="next ▶").click()
    expect(single.locator(".widget-html", has_text="/ 180")).to_contain_text("2")

    single.locator(".widget-toggle-button", has_text="gallery").click()
    thumbs = single.locator("img.snb-preview-thumb")
    expect(thumbs).to_have_count(24)
    expect(thumbs.nth(23)).to_have_js_property("complete", True)
    assert all(
        width > 0 for width in thumbs.evaluate_all("(els) => els.map((e) => e.naturalWidth)")
    )
    expect(single.locator(".widget-html", has_text="page")).to_contain_text("rows 1-24 of 180")
    nbp.screenshot("-gallery", target=single)
    single.locator(".snb-preview-gallery button").nth(4).click()
    expect(image).to_be_visible()
    expect(single.locator(".widget-html", has_text="/ 180")).to_contain_text("5")

    compare = nbp.output(3)
    counts = compare.locator(".snb-compare-counts")
    expect(counts).to_contain_text("GT v1 vs yolo-v8n")
    expect(counts).to_contain_text("matched")
    compare_image = compare.locator("img.snb-preview-image")
    expect(compare_image).to_be_visible()
    assert color_pixels(compare_image, MATCHED) > 100
    # walk to a row with a miss or an extra box, as a reviewer would
    next_button = compare.locator("button", has_text="next ▶")
    for _ in range(40):
        text = counts.inner_text()
        missed = int(re.search(r"missed (\d+)", text).group(1))
        extra = int(re.search(r"extra (\d+)", text).group(1))
        if missed or extra:
            break
        position = compare.locator(".widget-html", has_text="/ 180").inner_text()
        next_button.click()
        expect(compare.locator(".widget-html", has_text="/ 180")).not_to_have_text(position)
    else:
        pytest.fail("no row with a missed or extra box in the first 40")
    expect(compare_image).to_have_js_property("complete", True)
    if missed:
        _wait_for(lambda: color_pixels(compare_image, MISSED) > 20)
    if extra:
        _wait_for(lambda: color_pixels(compare_image, EXTRA) > 20)
    nbp.screenshot("-compare", target=compare)
    assert not nbp.widget_errors()


def _wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in the browser in time"
        time.sleep(0.1)
