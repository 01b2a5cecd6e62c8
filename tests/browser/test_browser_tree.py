"""ResourceTree in JupyterLab 4 and Notebook 7: lazy nodes expand, pages load, selection
shows details — each step a round trip between the browser and the kernel."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from synapse_nb.server import ServerHandle, start

from .browser_helpers import expect
from .test_browser_widgets import toggle, tree_item

# each notebook starts a kernel and waits on browser round trips: ~10 s apiece
pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRONTENDS = pytest.mark.parametrize("frontend", ["lab", "notebook"])

CELLS = [
    "# %% md\n# ResourceTree of the demo workspace",
    """\
import json
from synapse_nb.frames import Client
from synapse_nb.widgets import ResourceTree

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])
tree = ResourceTree(client, page_size=50)""",
    "tree",
]


@pytest.fixture(scope="module")
def backend() -> Iterator[ServerHandle]:
    srv = start(demo=True)  # read-only here: shared by both frontends
    try:
        yield srv
    finally:
        srv.stop()


@FRONTENDS
def test_tree_expands_lazily_pages_and_selects(notebooks, frontend, backend):
    folder = notebooks.server(frontend).notebook_dir
    (folder / "synapse-server.json").write_text(
        json.dumps({"url": backend.url, "token": backend.token})
    )
    nbp = notebooks.run(frontend, f"tree-{frontend}", CELLS)
    nbp.assert_ran_cleanly()
    out = nbp.output(2)
    projects = tree_item(out, "Projects")
    expect(projects).to_be_visible()
    for group in ("Data collections", "Ground-truth datasets", "Plugins", "Models", "Storages"):
        expect(tree_item(out, group)).to_be_visible()
    expect(projects).to_have_attribute("aria-expanded", "false")  # placeholder keeps the icon

    toggle(projects).click()
    street = tree_item(out, "Street detection (#1)")
    expect(street).to_be_visible()
    expect(tree_item(out, "loading…")).to_have_count(0)
    toggle(street).click()
    completed = tree_item(out, "completed (130)")
    expect(completed).to_be_visible()
    toggle(completed).click()
    expect(tree_item(out, "task 10 · scene_0005.jpg")).to_be_visible()
    more = tree_item(out, "… 80 more")
    expect(more).to_be_visible()
    more.click()  # loads the next page in its place
    expect(tree_item(out, "… 30 more")).to_be_visible()
    expect(more).to_have_count(0)

    task = tree_item(out, "task 12 · scene_0006.jpg")
    task.click()
    expect(task).to_have_attribute("aria-selected", "true")
    details = out.locator(".snb-tree-details")
    expect(details).to_contain_text("task 12 · scene_0006.jpg")
    expect(details).to_contain_text(re.compile(r"status\s*completed"))
    nbp.screenshot("-expanded", target=out)

    models = tree_item(out, "Models")
    toggle(models).click()
    expect(tree_item(out, "yolo-v8n 1.0.0")).to_be_visible()
    assert not nbp.widget_errors()
