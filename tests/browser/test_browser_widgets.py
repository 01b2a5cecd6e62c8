"""ipywidgets 8 and ipytree 0.2.2 render and round-trip in JupyterLab 4 and Notebook 7.

Each test runs a notebook through Run All in headless Chromium, then asserts on the rendered DOM
and drives the widgets: a click in the browser must reach a Python callback in the kernel, whose
result must come back into the page.
"""

from __future__ import annotations

import re

import pytest

from .browser_helpers import expect

pytestmark = pytest.mark.browser

FRONTENDS = pytest.mark.parametrize("frontend", ["lab", "notebook"])

IPYWIDGETS_CELLS = [
    "# %% md\n# ipywidgets: slider, button, HTML, output",
    """\
import ipywidgets as widgets

slider = widgets.IntSlider(value=7, min=0, max=10, description="Threshold")
button = widgets.Button(description="Count click")
clicks = widgets.HTML(value="clicks: 0")
log = widgets.Output()
count = 0


def on_click(_button):
    global count
    count += 1
    # the slider value is read in the kernel: it proves browser -> kernel sync as well
    clicks.value = f"clicks: {count} (slider={slider.value})"
    with log:
        print(f"callback ran in the kernel: {count}")


button.on_click(on_click)""",
    "widgets.VBox([slider, button, clicks, log])",
]

IPYTREE_CELLS = [
    "# %% md\n# ipytree: nested nodes, expansion, selection, lazy children",
    """\
import ipywidgets as widgets
from ipytree import Node, Tree

selected = widgets.HTML("selected: none")
opened = widgets.HTML("opened: none")

scenes = Node("Street scenes", [Node("task 1", icon="file"), Node("task 2", icon="file")],
              opened=False)
parking = Node("Parking lots", [Node("task 3", icon="file")], opened=False)
projects = Node("Projects", [scenes, parking], opened=False)
# lazy loading as the ResourceTree will do it: a placeholder child keeps the expand icon and
# the real children are fetched when the frontend opens the node
models = Node("Models", [Node("loading", icon="spinner")], opened=False)


def load_models(change):
    if change["new"] and models.nodes[0].name == "loading":
        models.nodes = (Node("yolo-v8", icon="cube"), Node("detr-r50", icon="cube"))


def on_opened(change):
    if change["new"]:
        opened.value = f"opened: {change['owner'].name}"


def on_selected(change):
    if change["new"]:
        selected.value = f"selected: {change['owner'].name}"


models.observe(load_models, "opened")
for node in (projects, scenes, parking, models):
    node.observe(on_opened, "opened")
for leaf in (*scenes.nodes, *parking.nodes):
    leaf.observe(on_selected, "selected")

tree = Tree(multiple_selection=False)
tree.add_node(projects)
tree.add_node(models)""",
    "widgets.VBox([tree, opened, selected])",
]


def drag_to_end(page, slider):
    """Drag the slider's handle past the right end of its track, as a user would."""
    handle = slider.locator(".noUi-handle")
    track = slider.locator(".noUi-target").bounding_box()
    box = handle.bounding_box()
    assert track and box, "slider handle or track has no layout box"
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + track["width"] + 20, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()


@FRONTENDS
def test_ipywidgets_render_and_round_trip(notebooks, frontend):
    nbp = notebooks.run(frontend, f"ipywidgets-{frontend}", IPYWIDGETS_CELLS)
    nbp.assert_ran_cleanly()
    out = nbp.output(2)
    expect(out.locator(".jupyter-widgets").first).to_be_visible()
    slider = out.locator(".widget-slider")
    expect(slider).to_be_visible()
    expect(slider.locator(".widget-readout")).to_have_text("7")
    button = out.locator(".widget-button", has_text="Count click")
    html = out.locator(".widget-html .widget-html-content")
    expect(html).to_have_text("clicks: 0")

    button.click()
    expect(html).to_have_text("clicks: 1 (slider=7)")
    expect(out.locator(".widget-output")).to_contain_text("callback ran in the kernel: 1")

    drag_to_end(nbp.page, slider)
    expect(slider.locator(".widget-readout")).to_have_text("10")
    button.click()
    expect(html).to_have_text("clicks: 2 (slider=10)")
    nbp.screenshot("-after-click", target=out)
    assert not nbp.widget_errors()


def tree_item(scope, name):
    """The anchor (role treeitem) of the jstree node called ``name``.

    Its accessible name starts with the Font Awesome glyph of the node's icon.
    """
    return scope.get_by_role("treeitem", name=re.compile(rf"^\W*{re.escape(name)}$"))


def toggle(item):
    """The expand/collapse icon of a jstree node: the sibling just before its anchor."""
    return item.locator("xpath=preceding-sibling::i[contains(@class, 'jstree-ocl')]")


@FRONTENDS
def test_ipytree_renders_expands_selects(notebooks, frontend):
    nbp = notebooks.run(frontend, f"ipytree-{frontend}", IPYTREE_CELLS)
    nbp.assert_ran_cleanly()
    out = nbp.output(2)
    projects = tree_item(out, "Projects")
    models = tree_item(out, "Models")
    scenes = tree_item(out, "Street scenes")
    expect(projects).to_be_visible()
    expect(models).to_be_visible()
    expect(projects).to_have_attribute("aria-expanded", "false")
    expect(scenes).to_be_hidden()
    opened = out.locator(".widget-html-content", has_text="opened:")
    selected = out.locator(".widget-html-content", has_text="selected:")
    expect(selected).to_have_text("selected: none")

    toggle(projects).click()
    expect(scenes).to_be_visible()
    expect(tree_item(out, "Parking lots")).to_be_visible()
    expect(projects).to_have_attribute("aria-expanded", "true")
    expect(opened).to_have_text("opened: Projects")
    toggle(scenes).click()
    task2 = tree_item(out, "task 2")
    expect(task2).to_be_visible()
    expect(opened).to_have_text("opened: Street scenes")

    task2.click()
    expect(task2).to_have_attribute("aria-selected", "true")
    expect(selected).to_have_text("selected: task 2")

    toggle(models).click()
    expect(tree_item(out, "yolo-v8")).to_be_visible()
    expect(tree_item(out, "detr-r50")).to_be_visible()
    expect(tree_item(out, "loading")).to_have_count(0)
    expect(opened).to_have_text("opened: Models")
    nbp.screenshot("-after-click", target=out)
    assert not nbp.widget_errors()
