"""explore(client) in JupyterLab 4 and Notebook 7: tree, table, preview and tag editor linked.

A click on a project in the tree re-lists the table, ticking a row opens it in the preview
(an image with its overlay) and in the tag editor — the links run in the kernel, so every
step is a browser -> kernel -> browser round trip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle, start

from .browser_helpers import expect
from .test_browser_widgets import tree_item

# each notebook starts a kernel and waits on browser round trips: ~10 s apiece
pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRONTENDS = pytest.mark.parametrize("frontend", ["lab", "notebook"])

CELLS = [
    "# %% md\n# Explorer: tree, filters + table, preview, tags",
    """\
import json
from synapse_nb.frames import Client
from synapse_nb.widgets import explore

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])
explorer = explore(client, page_size=10)""",
    "explorer",
]


@pytest.fixture(scope="module")
def backend() -> Iterator[ServerHandle]:
    srv = start(demo=True)  # nothing is written: shared by both frontends
    try:
        yield srv
    finally:
        srv.stop()


@FRONTENDS
def test_explorer_links_tree_table_preview_and_tags(notebooks, frontend, backend):
    folder = notebooks.server(frontend).notebook_dir
    (folder / "synapse-server.json").write_text(
        json.dumps({"url": backend.url, "token": backend.token})
    )
    with Client(backend.url, api_token=backend.token) as client:
        total = client.raw.list_tasks()["count"]
        pose_count = client.raw.list_tasks({"project": 2})["count"]
    nbp = notebooks.run(frontend, f"explorer-{frontend}", CELLS)
    nbp.assert_ran_cleanly()
    out = nbp.output(2)
    count = out.locator(".snb-count")
    expect(count).to_have_text(f"{total} tasks match (server-side)")  # loaded on first view
    pose = tree_item(out, "Pedestrian pose (#2)")
    expect(pose).to_be_visible()  # the explorer opens the project list when it loads
    expect(out.locator(".snb-tag-button").first).to_be_visible()

    pose.click()
    expect(count).to_have_text(f"{pose_count} tasks match (server-side)")
    expect(out.locator(".snb-tree-details")).to_contain_text("Pedestrian pose")

    # completed tasks have annotations: the preview draws them
    out.locator(".snb-status-filter select").select_option(label="completed")
    row = out.locator(".snb-rows .snb-fp-table").first
    expect(row.locator("td").nth(1)).to_have_text("completed")
    pk = row.get_attribute("data-id")
    out.locator(".snb-row-check input[type=checkbox]").first.check()
    expect(out.locator(".snb-target")).to_have_text(f"1 task selected: {pk}")
    image = out.locator(".snb-preview-box img.snb-preview-image")
    # the first preview downloads the image and renders it in the kernel: allow a loaded machine
    expect(image).to_be_visible(timeout=90_000)
    expect(image).to_have_attribute("src", re.compile(r"^blob:|^data:image/"))
    box = image.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 50, box
    nbp.screenshot("-linked", target=out)
    nbp.screenshot("-preview", target=out.locator(".snb-preview-box"))
    assert not nbp.widget_errors()
