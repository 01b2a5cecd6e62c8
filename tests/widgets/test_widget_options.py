"""Every widget refuses a keyword it does not take, naming it, and keeps its real options.

ipywidgets takes any keyword and only warns (a warning notebooks hide), so a misspelled
option (``page_size`` as ``pagesize``) used to be ignored silently.
"""

from __future__ import annotations

import inspect

import pandas as pd
import pytest
from traitlets import TraitError

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.widgets import (
    AnnotationPreview,
    EvaluationPanel,
    Explorer,
    FilterPanel,
    JobMonitor,
    ResourceTree,
    TagEditor,
    UploadProgress,
)

WIDGETS = [
    AnnotationPreview,
    EvaluationPanel,
    Explorer,
    FilterPanel,
    JobMonitor,
    ResourceTree,
    TagEditor,
    UploadProgress,
]


def _required(widget: type) -> list[None]:
    """Placeholders for the positional arguments ``widget`` requires (never read: the
    unknown keyword is refused first)."""
    parameters = inspect.signature(widget.__init__).parameters.values()
    return [
        None
        for p in parameters
        if p.name != "self" and p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty
    ]


@pytest.mark.parametrize("widget", WIDGETS, ids=lambda w: w.__name__)
def test_a_misspelled_option_is_refused_by_name(widget):
    with pytest.raises(InvalidInputError) as info:
        widget(*_required(widget), pagesize=5)
    err = info.value
    assert err.field == "pagesize" and err.value == 5
    assert f"is not an option of {widget.__name__}" in str(err)
    assert "layout" in str(err)  # the widget traits it does take are listed


def test_widget_traits_and_options_are_still_taken():
    frame = pd.DataFrame({"status": ["pending", "done"]}, index=pd.Index([1, 2], name="id"))
    panel = FilterPanel(frame, page_size=10, layout={"width": "50%"}, box_style="info")
    assert panel.page_size == 10 and panel.layout.width == "50%" and panel.box_style == "info"
    with pytest.raises(InvalidInputError, match=r"invalid children="):  # owned by the widget
        FilterPanel(frame, children=[])


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("mode", "grid", "expected any of ['single', 'gallery']"),
        ("index", 7, "is outside the frame's rows 0..1"),
        ("gallery_size", 0, "must be between 1 and 200"),
        ("gallery_size", "x", "expected an int"),
        ("iou_threshold", 2.0, "must be between 0 and 1"),
    ],
)
def test_annotation_preview_options_are_checked_as_input_errors(option, value, problem, tmp_path):
    urls = ["http://127.0.0.1:9/a.jpg", "http://127.0.0.1:9/b.jpg"]
    frame = pd.DataFrame({"file_url": urls, "data": [{}, {}]}, index=pd.Index([1, 2], name="id"))
    with pytest.raises(InvalidInputError) as info:
        AnnotationPreview(frame, cache_dir=tmp_path, **{option: value})
    assert isinstance(info.value, TraitError)  # what `except TraitError` code caught before
    assert info.value.field == option and info.value.value == value
    assert problem in str(info.value)
    preview = AnnotationPreview(frame, cache_dir=tmp_path, min_score=0.25)  # a trait option
    assert preview.min_score == 0.25


def _small_frame() -> pd.DataFrame:
    return pd.DataFrame({"status": ["pending", "done"]}, index=pd.Index([1, 2], name="id"))


@pytest.mark.parametrize(
    ("make", "method"),
    [
        (lambda: FilterPanel(_small_frame()), "on_filter"),
        (lambda: FilterPanel(_small_frame()), "on_select"),
        (lambda: TagEditor(), "on_change"),
        (lambda: UploadProgress(display="widget"), "on_cancel"),
        (lambda: UploadProgress(display="widget"), "on_complete"),
    ],
)
def test_an_event_callback_that_cannot_be_called_is_refused_when_registered(make, method):
    # it used to fail only when the event came, inside ipywidgets, where nobody sees it
    widget = make()
    with pytest.raises(InvalidInputError) as info:
        getattr(widget, method)(5)
    assert info.value.field == "callback" and info.value.value == 5
    assert method in str(info.value)


def test_widget_methods_check_their_arguments():
    panel = FilterPanel(_small_frame())
    with pytest.raises(InvalidInputError, match=r"invalid ascending='no'"):
        panel.sort("status", ascending="no")  # a truthy text used to sort ascending
    panel.sort("status", ascending=False)
    assert panel.value["status"].tolist() == ["pending", "done"]
    editor = TagEditor()
    with pytest.raises(InvalidInputError, match=r"invalid tags=5"):
        editor.set_tags(5)
    with pytest.raises(InvalidInputError, match=r"invalid tags\[1\]='blurry'"):
        editor.set_tags([{"id": 1, "name": "a", "color": "#fff"}, "blurry"])
    with pytest.raises(InvalidInputError, match=r"invalid panel='panel'"):
        editor.follow("panel")
    rows = pd.DataFrame({"id": [1], "name": ["a"], "color": ["#ffffff"]})
    editor.set_tags([row for _, row in rows.iterrows()])  # rows of a frame, as before
    assert [t["name"] for t in editor.tags] == ["a"]
