"""The dataset-health facets of FilterPanel, driven in JupyterLab at 1280 and 1920 px.

The notebook runs ``df.synapse.health()`` on the demo workspace (with its planted problems)
and shows a FilterPanel on the result; the test picks an issue and a score column in the
browser and reads the count and the rows the table shows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from synapse_nb.server import ServerHandle, start

from .browser_helpers import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    "# %% md\n# Dataset health facets",
    """\
import json
from synapse_nb.frames import Client
from synapse_nb.widgets import FilterPanel

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"], progress=False)
tasks = client.list_tasks({"project": 1}, list_all=True).synapse.split()
report = tasks.synapse.health(progress=False)""",
    """\
panel = FilterPanel(report.frame, columns=["file_name", "split", "image_issues",
                                           "annotation_issues"], page_size=10)
panel""",
]


@pytest.fixture(scope="module")
def backend() -> Iterator[ServerHandle]:
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("width", [1280, 1920])
def test_a_health_facet_filters_the_table_in_jupyterlab(notebooks, backend, width):
    folder = notebooks.server("lab").notebook_dir
    (folder / "synapse-server.json").write_text(
        json.dumps({"url": backend.url, "token": backend.token}))
    nbp = notebooks.open("lab", f"health-facets-{width}", CELLS)
    nbp.page.set_viewport_size({"width": width, "height": 900})
    nbp.run_all()
    nbp.assert_ran_cleanly()
    out = nbp.output(2)
    count = out.locator(".snb-count")
    expect(count).to_have_text("240 of 240 tasks match")

    issue = out.locator(".snb-issue-filter select")
    expect(issue).to_be_visible()
    box = issue.bounding_box()
    assert box is not None and box["x"] + box["width"] <= width, "the facet is cut off"
    issue.select_option(label="near_duplicate (3)")
    expect(count).to_have_text("3 of 240 tasks match")
    rows = out.locator(".snb-rows .snb-fp-table:visible")  # pooled rows: the rest are hidden
    expect(rows).to_have_count(3)
    names = sorted(rows.nth(k).locator("td").nth(1).inner_text() for k in range(3))
    assert names == ["scene_0130.jpg", "scene_0160.jpg", "scene_0170.jpg"]

    issue.select_option(label="leak (2)")
    expect(count).to_have_text("2 of 240 tasks match")
    expect(rows.first.locator("td").nth(3)).to_contain_text("leak")

    issue.select_option(label="any")
    out.locator(".snb-score-filter select").select_option(label="dark_score")
    expect(count).to_have_text("240 of 240 tasks match")
    expect(out.locator(".snb-score-range")).to_be_visible()
    nbp.screenshot(f"-health-{width}", target=out)
    assert not nbp.widget_errors()
