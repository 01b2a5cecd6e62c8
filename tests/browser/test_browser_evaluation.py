"""EvaluationPanel in JupyterLab 4: click a confusion cell -> the table and the preview change
-> one click tags the cell's tasks (checked on the server), at 1280 and 1920 px wide, with no
label cut off by its box.

The backend runs in the test process (a fresh demo workspace per width: the test tags tasks);
the notebook reads its URL and token from ``synapse-server.json`` and evaluates the demo's
yolo-v8n predictions against ground truth v2, as the widget tests do.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from synapse_nb.frames import Client
from synapse_nb.server import ServerHandle, start
from synapse_nb.widgets.preview import HIGHLIGHT

from .browser_helpers import expect
from .test_browser_preview import color_pixels

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: The notebook: evaluate the demo's predictions against ground truth v2, show the panel.
CELLS = [
    "# %% md\n# EvaluationPanel against the embedded backend",
    """\
import json
import pandas as pd
from synapse_nb.evaluation import coco_from_per_image, evaluate
from synapse_nb.frames import Client
from synapse_nb.widgets import EvaluationPanel

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])
tasks = client.list_tasks({"project": 1}, list_all=True)
by_unit = pd.Series(tasks.index.to_numpy(), index=tasks["data_unit_id"].to_numpy())
names = {d["id"]: d["name"] for d in client.raw.list_ground_truth_datasets()["results"]}
versions = {(names[v["ground_truth_dataset"]], v["version"]): v["id"]
            for v in client.raw.list_ground_truth_versions()["results"]}

def boxes(version):
    events = client.list_ground_truth_events(
        {"ground_truth_dataset_versions": [version]}, list_all=True, include_data=True)
    task_of = events["data_unit_id"].map(by_unit)
    out = {int(t): [] for t in task_of}
    ann = events.synapse.annotations()
    for row in ann[ann["tool"] == "bounding_box"].itertuples():
        item = {"label": row.class_name, "bbox": [row.x, row.y, row.w, row.h]}
        if "score" in (row.attributes or {}):
            item["score"] = float(row.attributes["score"])
        out[int(task_of.loc[row.event_id])].append(item)
    return out

gt, preds = coco_from_per_image(boxes(versions[("Street GT", "v2")]),
                                boxes(versions[("yolo-v8n 2.0.0 predictions", "v1")]))
result = evaluate(gt, preds)
images = {im["id"]: int(im["file_name"]) for im in gt["images"]}
panel = EvaluationPanel(result, tasks, images=images)
matrix = result.confusion_matrix()""",
    "panel",
]

#: Visible elements of the panel whose text is wider than their box (cut or spilling out).
OVERFLOW_JS = """
(root) => {
  const out = [];
  const sel = ".widget-button, .widget-toggle-button, .widget-label, .snb-confusion-label div,"
            + " .widget-html-content, .widget-inline-hbox .widget-label";
  for (const el of root.querySelectorAll(sel)) {
    if (!el.offsetParent || el.clientWidth === 0) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      const text = el.innerText.slice(0, 40);
      out.push(`${el.className}: "${text}" ${el.scrollWidth}>${el.clientWidth}`);
    }
  }
  return out;
}
"""


@pytest.fixture
def backend() -> Iterator[ServerHandle]:
    """A demo workspace of this test alone (it tags tasks)."""
    srv = start(demo=True)
    try:
        yield srv
    finally:
        srv.stop()


def _expected(client: Client) -> tuple[str, str, int, set[int]]:
    """The largest off-diagonal cell and its tasks, computed by the notebook's own code."""
    source = (
        CELLS[1]
        .replace('cfg = json.load(open("synapse-server.json"))\n', "")
        .replace('client = Client(cfg["url"], api_token=cfg["token"])\n', "")
    )
    namespace: dict = {"client": client}
    exec(source, namespace)
    matrix, panel = namespace["matrix"], namespace["panel"]
    values = matrix.iloc[:-1, :-1].to_numpy().copy()
    np.fill_diagonal(values, 0)
    i, j = np.unravel_index(values.argmax(), values.shape)
    true, predicted = str(matrix.index[i]), str(matrix.columns[j])
    tasks = {int(t) for t in panel.select_cell(true, predicted).index}
    panel.close()
    return true, predicted, int(values[i, j]), tasks


def _tagged(client: Client) -> set[int]:
    tasks = client.list_tasks({"project": 1}, list_all=True)
    return {int(pk) for pk, names in tasks["tag_names"].items() if "needs-review" in names}


@pytest.mark.parametrize("width", [1280, 1920])
def test_click_a_cell_then_tag_its_tasks(notebooks, backend, width):
    folder = notebooks.server("lab").notebook_dir
    (folder / "synapse-server.json").write_text(
        json.dumps({"url": backend.url, "token": backend.token})
    )
    with Client(backend.url, api_token=backend.token) as client:
        true, predicted, count, cell_tasks = _expected(client)
        before = _tagged(client)
    nbp = notebooks.open("lab", f"evaluation-{width}", CELLS)
    nbp.page.set_viewport_size({"width": width, "height": 1000})
    nbp.run_all()
    nbp.assert_ran_cleanly()
    out = nbp.output(2)
    panel = out.locator(".snb-evaluation")
    expect(panel.locator(".snb-eval-summary")).to_contain_text("AP50")
    cell = panel.locator(f'.snb-confusion-cell[title="GT {true} predicted {predicted}: {count}"]')
    expect(cell).to_be_visible()
    expect(cell).to_have_text(str(count))
    nbp.screenshot("-matrix", target=panel)

    cell.click()
    status = panel.locator(".snb-eval-status")
    expect(status).to_contain_text(f"ground truth {true} predicted {predicted}")
    image = panel.locator(".snb-eval-preview img.snb-preview-image")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    assert color_pixels(image, HIGHLIGHT) > 20, "the cell's boxes are not framed"
    table = panel.locator(".snb-filter-panel")
    expect(table.locator(".snb-count")).to_contain_text(str(len(cell_tasks)))
    tag = panel.locator(".snb-eval-tag button, button.snb-eval-tag").first
    expect(tag).to_be_enabled()
    expect(tag).to_contain_text("needs-review")
    assert nbp.page.evaluate(OVERFLOW_JS, panel.element_handle()) == []
    nbp.screenshot("-cell", target=panel)

    tag.click()
    expect(status).to_contain_text("Added needs-review")
    with Client(backend.url, api_token=backend.token) as client:
        after = _tagged(client)
    assert cell_tasks - before, "every task of the cell was tagged already"
    assert after == before | cell_tasks
    assert nbp.widget_errors() == []


#: The notebook of the review loop inside explore(): the panel from client.evaluate(...).
EXPLORE_CELLS = [
    "# %% md\n# explore() with an evaluation tab",
    """\
import json
from synapse_nb.frames import Client
from synapse_nb.widgets import EvaluationPanel, explore

cfg = json.load(open("synapse-server.json"))
client = Client(cfg["url"], api_token=cfg["token"])
names = {d["id"]: d["name"] for d in client.raw.list_ground_truth_datasets()["results"]}
versions = {(names[v["ground_truth_dataset"]], v["version"]): v["id"]
            for v in client.raw.list_ground_truth_versions()["results"]}
model = next(m["id"] for m in client.raw.list_models()["results"]
             if (m["name"], m["version"]) == ("yolo-v8n", "2.0.0"))
result = client.evaluate(ground_truth=versions[("Street GT", "v2")],
                         predictions={"model": model})
panel = EvaluationPanel.from_client(client, result)
ex = explore(client, project=1, evaluation=panel)""",
    "ex",
]


def test_a_cell_click_inside_explore_filters_the_live_table(notebooks, backend):
    folder = notebooks.server("lab").notebook_dir
    (folder / "synapse-server.json").write_text(
        json.dumps({"url": backend.url, "token": backend.token})
    )
    with Client(backend.url, api_token=backend.token) as client:
        namespace: dict = {"client": client}
        source = (
            EXPLORE_CELLS[1]
            .replace('cfg = json.load(open("synapse-server.json"))\n', "")
            .replace('client = Client(cfg["url"], api_token=cfg["token"])\n', "")
        )
        exec(source, namespace)
        panel = namespace["panel"]
        values = panel.matrix.iloc[:-1, :-1].to_numpy().copy()
        np.fill_diagonal(values, 0)
        i, j = np.unravel_index(values.argmax(), values.shape)
        true, predicted = str(panel.matrix.index[i]), str(panel.matrix.columns[j])
        count = int(values[i, j])
        cell_tasks = len(panel.select_cell(true, predicted))
        everything = client.raw.list_tasks({"project": 1})["count"]
        panel.close()
    nbp = notebooks.open("lab", "explore-evaluation", EXPLORE_CELLS)
    nbp.page.set_viewport_size({"width": 1280, "height": 1000})
    nbp.run_all()
    nbp.assert_ran_cleanly()
    out = nbp.output(2)
    counts = out.locator(".snb-count", has_text="server-side")
    expect(counts).to_contain_text(f"{everything}")
    out.locator(".lm-TabBar-tab", has_text="Evaluation").click()
    cell = out.locator(f'.snb-confusion-cell[title="GT {true} predicted {predicted}: {count}"]')
    expect(cell).to_be_visible()
    cell.click()

    chip = out.locator(".snb-id-chip", has_text="from confusion cell")
    expect(chip).to_be_visible()  # the Explore tab is shown again
    expect(chip).to_contain_text(f"{cell_tasks} tasks from confusion cell {true}→{predicted}")
    expect(counts).to_contain_text(f"{cell_tasks} task")
    image = out.locator(".snb-preview-box img.snb-preview-image")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    assert color_pixels(image, HIGHLIGHT) > 20, "the cell's boxes are not framed"
    nbp.screenshot("-explore-cell", target=out)

    chip.locator("button").click()
    expect(chip).to_be_hidden()
    expect(counts).to_contain_text(f"{everything}")
    assert nbp.widget_errors() == []
