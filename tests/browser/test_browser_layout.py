"""No text is clipped in the explorer at a laptop (1280 px) and a desktop (1920 px) width.

The explorer is the widget with the most text in it: tree labels, the details pane, filter
dropdowns, table cells, the preview legend (class names with their counts) and
the tag chips. Each leaf element whose box clips its own text (``overflow`` other than
``visible``, or an ellipsis) must be wide enough for that text; table cells are the one
exception (long file names are cut with an ellipsis there, the full name is the cell's
tooltip, and the test checks that the tooltip is present).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from synapse_nb.server import ServerHandle, start

from .browser_helpers import expect
from .test_browser_widgets import tree_item

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELLS = [
    """\
import json
from synapse_nb.frames import Client
from synapse_nb.widgets import explore

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])
explorer = explore(client, page_size=10)""",
    "explorer",
    # the control: a label too narrow for its text, which the check must report
    "import ipywidgets as w\n"
    'w.Label("a label far too long for forty pixels", layout=w.Layout(width="40px"))',
]

#: Leaf elements under ``root`` whose own box clips their text (tag, class, text, widths).
CLIPPED_JS = """
(root) => {
  const out = [];
  for (const el of root.querySelectorAll('*')) {
    if (el.children.length || el.offsetParent === null) continue;
    const text = (el.textContent || '').trim();
    if (!text) continue;
    const cs = getComputedStyle(el);
    if (cs.visibility === 'hidden') continue;
    const clips = cs.overflowX !== 'visible' || cs.textOverflow === 'ellipsis';
    if (!clips || el.scrollWidth <= el.clientWidth + 1) continue;
    const cell = el.closest('td, th');
    const titled = cell && ((cell.getAttribute('title') || '') + (el.getAttribute('title') || ''));
    out.push({tag: el.tagName.toLowerCase(), cls: String(el.className), text,
              need: el.scrollWidth, have: el.clientWidth, cell: !!cell, titled: !!titled});
  }
  return out;
}
"""


@pytest.fixture(scope="module")
def backend() -> Iterator[ServerHandle]:
    srv = start(demo=True)  # nothing is written
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.parametrize("width", [1280, 1920])
def test_explorer_text_is_not_clipped(notebooks, backend, width):
    folder = notebooks.server("lab").notebook_dir
    (folder / "synapse-server.json").write_text(
        json.dumps({"url": backend.url, "token": backend.token})
    )
    nbp = notebooks.open("lab", f"layout-{width}", CELLS)
    nbp.page.set_viewport_size({"width": width, "height": 1000})
    nbp.run_all()
    nbp.assert_ran_cleanly()
    out = nbp.output(1)
    expect(out.locator(".snb-count")).to_contain_text("tasks match")
    # a project's details, a completed task in the preview (legend with every class) and tags
    tree_item(out, "Pedestrian pose (#2)").click()
    expect(out.locator(".snb-tree-details")).to_contain_text("Pedestrian pose")
    tree_item(out, "Street detection (#1)").click()
    expect(out.locator(".snb-tree-details")).to_contain_text("Street detection")
    out.locator(".snb-status-filter select").select_option(label="completed")
    expect(out.locator(".snb-rows .snb-fp-table td").nth(1)).to_have_text("completed")
    out.locator(".snb-row-check input[type=checkbox]").first.check()
    image = out.locator(".snb-preview-box img.snb-preview-image")
    expect(image).to_be_visible(timeout=90_000)
    expect(image).to_have_attribute("src", re.compile(r"^blob:|^data:image/"))
    expect(out.locator(".snb-preview-legend")).to_contain_text(re.compile(r"\w+ \(\d+\)"))

    control = nbp.output(2).evaluate(CLIPPED_JS)
    assert [f["text"] for f in control] == ["a label far too long for forty pixels"], control
    found = out.evaluate(CLIPPED_JS)
    nbp.screenshot(f"-{width}", target=out)
    clipped = [f for f in found if not f["cell"]]
    assert not clipped, f"text clipped at {width} px: {clipped}"
    untitled = [f for f in found if f["cell"] and not f["titled"]]
    assert not untitled, f"table cells cut without a tooltip at {width} px: {untitled}"
    assert not nbp.widget_errors()
