"""FilterPanel + TagEditor in JupyterLab 4 and Notebook 7, against the embedded backend.

The backend runs in the test process; the notebook connects to it with the URL and token in
``synapse-server.json`` next to the notebook (so neither shows up in a screenshot). The
test changes a filter in the browser, ticks a row, applies a tag through the editor's
confirm step, checks the tag on the server and in the table, and undoes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle, start

from .browser_helpers import expect

# each notebook starts a kernel and waits on browser round trips: ~10 s apiece
pytestmark = [pytest.mark.browser, pytest.mark.slow]

FRONTENDS = pytest.mark.parametrize("frontend", ["lab", "notebook"])

CONNECT = """\
import json
from synapse_nb.frames import Client

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])"""

CELLS = [
    "# %% md\n# FilterPanel and TagEditor (live against the embedded backend)",
    CONNECT,
    """\
import ipywidgets as widgets
from synapse_nb.widgets import FilterPanel, TagEditor

panel = FilterPanel(client=client, params={"project": 1}, page_size=10)
editor = TagEditor(client, project=1)
panel.on_select(lambda ids: setattr(editor, "rows", panel.selected_frame if ids else None))
editor.on_change(lambda change, rows: panel.update_rows(rows))""",
    "widgets.VBox([panel, editor])",
]


@pytest.fixture
def backend() -> Iterator[ServerHandle]:
    """A private demo workspace: the test tags a task."""
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


def write_connection(notebooks, frontend: str, srv: ServerHandle) -> None:
    folder = notebooks.server(frontend).notebook_dir
    (folder / "synapse-server.json").write_text(json.dumps({"url": srv.url, "token": srv.token}))


def task_tag_names(srv: ServerHandle, pk: int) -> list[str]:
    with Client(srv.url, api_token=srv.token) as client:
        names = client.list_task_tags().name.to_dict()
        return sorted(names[t] for t in client.raw.get_task(pk)["tags"])


@FRONTENDS
def test_filter_select_and_tag_in_the_browser(notebooks, frontend, backend):
    write_connection(notebooks, frontend, backend)
    nbp = notebooks.run(frontend, f"filter-tags-{frontend}", CELLS)
    nbp.assert_ran_cleanly()
    out = nbp.output(3)
    count = out.locator(".snb-count")
    expect(count).to_have_text("240 tasks match (server-side)")
    rows = out.locator(".snb-rows .snb-fp-table")
    expect(rows).to_have_count(10)
    expect(rows.first).to_be_visible()

    # a filter change in the browser reaches the server and comes back as a new page
    out.locator(".snb-status-filter select").select_option(label="completed")
    expect(count).to_have_text("130 tasks match (server-side)")
    expect(out.locator(".snb-page-label")).to_have_text("page 1 of 13 · rows 1–10")
    first = rows.first
    expect(first.locator("td").nth(1)).to_have_text("completed")
    pk = int(first.get_attribute("data-id"))

    # tick the row: the editor gets it
    out.locator(".snb-row-check input[type=checkbox]").first.check()
    expect(out.locator(".snb-selection")).to_have_text("1 selected")
    expect(out.locator(".snb-target")).to_have_text(f"1 task selected: {pk}")
    had_gold = "gold" in task_tag_names(backend, pk)

    # choose a tag, Add, confirm: the tag reaches the server and the table
    out.locator(".snb-tag-button", has_text="gold").click()
    expect(out.locator(".snb-tag-button", has_text="✓ gold")).to_be_visible()
    out.locator(".snb-add").click()
    expect(out.locator(".snb-question")).to_have_text("Add gold to 1 task?")
    assert ("gold" in task_tag_names(backend, pk)) == had_gold  # nothing sent yet
    out.locator(".snb-confirm").click()
    expect(out.locator(".snb-tag-status")).to_contain_text(re.compile(r"Added gold to"))
    expect(first.locator(".snb-tag", has_text="gold")).to_be_visible()
    assert "gold" in task_tag_names(backend, pk)
    nbp.screenshot("-tagged", target=out)

    out.locator(".snb-undo").click()
    expect(out.locator(".snb-tag-status")).to_contain_text("Undone: add gold")
    assert ("gold" in task_tag_names(backend, pk)) == had_gold
    if not had_gold:
        expect(first.locator(".snb-tag", has_text="gold")).to_have_count(0)
    assert not nbp.widget_errors()
