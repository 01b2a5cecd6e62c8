"""Every former DM reader's output is reproduced by its replacement on ``synapse_nb.annotations``.

``_legacy_readers`` keeps frozen copies of the readers as they were (frames, the preview's shape
reader, the converters' value helpers, the demo's IoU); each test feeds the same input to the old
and the new function and compares. Inputs: the demo workspace's documents (ground truth,
perturbed copies, predictions, and their DM v1 forms) and hypothesis-generated v1/v2 documents
of any shape.

Three differences are intended. The old preview crashed on a ``group`` entry that is not a
list (a bug, fixed: :func:`test_a_malformed_group_no_longer_crashes`). And, spelled out in
:func:`_frames_rows_equal`:
- a v1 box whose coordinate states ``rotation: 0`` now keeps it in its attributes (the old
  frames reader dropped falsy rotations, while the converter and preview kept them);
- a v1 ``extra`` width that is not an integral number no longer feeds mask boxes.
"""

from __future__ import annotations

import dataclasses
import math

import _legacy_readers as legacy
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import HEIGHT, WIDTH, v1_document, v2_document, valid_v2_document

from synapse_nb.annotations import geometry, values
from synapse_nb.converters import _common, dm_v2_to_v1
from synapse_nb.frames.dm import iter_annotations, summarize
from synapse_nb.server.demo import media
from synapse_nb.widgets._render import box_iou, shapes_from_doc

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------- comparisons


def _same(a: object, b: object) -> bool:
    """Equality where NaN equals NaN (documents may hold NaN coordinates)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def _frames_rows_equal(old: list[dict], new: list[dict], doc: object) -> None:
    assert len(old) == len(new), (old, new)
    is_v1 = isinstance(doc, dict) and isinstance(doc.get("annotations"), dict)
    for o, n in zip(old, new, strict=True):
        if is_v1 and "rotation" in n["attributes"] and "rotation" not in o["attributes"]:
            assert not n["attributes"]["rotation"] and n["attributes"]["rotation"] is not None
            n = {**n, "attributes": {k: v for k, v in n["attributes"].items() if k != "rotation"}}
        assert _same(o, n), (o, n)


def _shape_fields(shapes: list) -> list[dict]:
    # ``flag`` (dataset-health marks, set by the preview) is newer than the legacy shapes;
    # reading a document never sets it
    assert all(getattr(s, "flag", None) is None for s in shapes)
    return [
        {f.name: getattr(s, f.name) for f in dataclasses.fields(s) if f.name != "flag"}  # type: ignore[arg-type]
        for s in shapes
    ]


def _check_frames(doc: object, width: int | None = None) -> None:
    old = list(legacy.frames_iter_annotations(doc, width))
    new = list(iter_annotations(doc, width))
    _frames_rows_equal(old, new, doc)
    assert summarize(doc) == legacy.frames_summarize(doc)


def _check_shapes(doc: object) -> None:
    new = _shape_fields(shapes_from_doc(doc))
    try:
        old = _shape_fields(legacy.render_shapes_from_doc(doc))
    except TypeError:
        # the old reader crashed on a ``group`` entry that is not a list (or whose members
        # are not a list); the model skips it: see test_a_malformed_group_no_longer_crashes
        assert _malformed_group(doc)
        return
    assert _same(old, new), (old, new)


def _malformed_group(doc: object) -> bool:
    images = doc.get("images") if isinstance(doc, dict) else None
    item = images[0] if isinstance(images, list) and images else None
    groups = item.get("group") if isinstance(item, dict) else None
    if groups is None or groups == [] or groups is False:
        return False
    if not isinstance(groups, list):
        return True
    return any(
        isinstance(g, dict)
        and g.get("id") is not None
        and not isinstance(g.get("data") or [], list | tuple | str | dict)
        for g in groups
    )


# ---------------------------------------------------------------------------- demo workspace


@pytest.fixture(scope="module")
def demo_documents(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[dict, int, int]]:
    items = media.generate_items(10, tmp_path_factory.mktemp("demo"), seed=0)
    docs = []
    for item in items:
        gt = item.annotations
        docs.append((gt, item.width, item.height))
        docs.append((media.perturb(gt, seed=item.index), item.width, item.height))
        docs.append((media.predictions(gt, seed=item.index), item.width, item.height))
    return docs


def test_demo_documents_read_as_before(demo_documents: list[tuple[dict, int, int]]) -> None:
    tools_seen: set[str] = set()
    for doc, width, height in demo_documents:
        _check_frames(doc, width)
        _check_shapes(doc)
        v1, _audit = dm_v2_to_v1(doc, extra={"image_1": {"width": width, "height": height}})
        _check_frames(v1)
        _check_shapes(v1)
        tools_seen.update(row["tool"] for row in iter_annotations(doc, width))
    # the demo exercises every drawable tool, so the comparison above covers them all
    assert {"bounding_box", "polygon", "polyline", "keypoint", "segmentation"} <= tools_seen


# ---------------------------------------------------------------------------- hypothesis: frames


@SETTINGS
@given(v2_document(), st.one_of(st.none(), st.integers(1, 64)))
def test_frames_rows_of_any_v2_document(doc: dict, width: int | None) -> None:
    _check_frames(doc, width)


@SETTINGS
@given(v1_document())
def test_frames_rows_of_any_v1_document(doc: dict) -> None:
    _check_frames(doc)


@given(st.one_of(st.none(), st.integers(), st.text(max_size=3), st.lists(st.integers())))
def test_frames_rows_of_foreign_json(data: object) -> None:
    _check_frames(data)


# ---------------------------------------------------------------------------- hypothesis: preview


@SETTINGS
@given(v2_document())
def test_preview_shapes_of_any_v2_document(doc: dict) -> None:
    _check_shapes(doc)


@SETTINGS
@given(valid_v2_document())
def test_preview_shapes_of_v1_documents(doc: dict) -> None:
    """The old preview read v1 through the strict converter; on the documents it accepts
    (valid ones, here made by converting valid v2) the model reads the same shapes."""
    v1, audit = dm_v2_to_v1(doc, extra={"image_1": {"width": WIDTH, "height": HEIGHT}})
    assert not [r for r in audit if str(r.outcome) == "failed"]
    _check_shapes(v1)
    _check_shapes(doc)


# ---------------------------------------------------------------------------- converters' helpers

anything = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 5), st.floats(), st.text(max_size=8),
    st.sampled_from(["visible", "occluded", "missing", "Visible", "MISSING"]),
)  # fmt: skip


@given(anything)
def test_converter_value_helpers(value: object) -> None:
    assert _common.is_number(value) == legacy.is_number(value)
    ann = {"visibility": value}
    assert _common.visibility_of(ann) == legacy.visibility_of(ann)
    assert _common.visibility_of({}) == legacy.visibility_of({})
    attrs = {"attrs": [{"name": "x"}, {"name": "rotation", "value": value}]}
    assert _same(_common.attr_value(attrs, "rotation"), legacy.attr_value(attrs, "rotation"))
    assert _common.rotation_of(attrs) == legacy.rotation_of(attrs)


@given(st.lists(st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)), min_size=1, max_size=8))
def test_polygon_area_and_point_checks(points: list[tuple[float, float]]) -> None:
    assert _common.polygon_area(points) == legacy.polygon_area(points)
    ann = {"data": [list(p) for p in points]}
    assert _common.points_of(ann) == legacy.points_of(ann)
    assert _common.bbox_of({"data": list(points[0]) * 2}) == legacy.bbox_of(
        {"data": list(points[0]) * 2}
    )


# ---------------------------------------------------------------------------- IoU and polygons

box = st.tuples(st.floats(-100, 100), st.floats(-100, 100), st.floats(0, 50), st.floats(0, 50)).map(
    list
)


@given(st.lists(box, max_size=6), st.lists(box, max_size=6))
def test_box_iou_matches_the_old_copies(a: list, b: list) -> None:
    new = geometry.box_iou(np.array(a).reshape(-1, 4), np.array(b).reshape(-1, 4))
    old = legacy.render_box_iou(np.array(a).reshape(-1, 4), np.array(b).reshape(-1, 4))
    # the old copy could exceed 1 by a rounding step (test_model checks IoU <= 1); else equal
    assert np.array_equal(new, np.minimum(old, 1.0))
    assert box_iou is geometry.box_iou  # the preview's public name is the shared function
    for i, ba in enumerate(a):
        for j, bb in enumerate(b):
            old_iou = min(legacy.demo_iou(ba, bb), 1.0)  # the old copy could pass 1 by rounding
            assert geometry.iou_xywh(ba, bb) == old_iou
            assert math.isclose(new[i, j], old_iou, abs_tol=1e-12)


@given(
    st.lists(st.tuples(st.integers(-20, 20), st.integers(-20, 20)), min_size=3, max_size=7),
    st.lists(st.tuples(st.floats(-25, 25), st.floats(-25, 25)), min_size=1, max_size=10),
)
def test_point_in_polygon_matches_the_demo_copy(polygon: list, points: list) -> None:
    xs = np.array([p[0] for p in points])
    ys = np.array([p[1] for p in points])
    inside = geometry.point_in_polygon(xs, ys, polygon)
    expected = [legacy.demo_point_in_polygon(x, y, polygon) for x, y in points]
    assert inside.tolist() == expected
    assert [geometry.point_in_polygon(x, y, polygon) for x, y in points] == expected


def test_values_module_is_the_one_visibility_table() -> None:
    assert values.VISIBILITY_NAMES == legacy.VISIBILITY_NAMES
    assert _common.VISIBILITY_NAMES is values.VISIBILITY_NAMES


@pytest.mark.parametrize("group", [True, 5, [{"id": "g", "data": 3}]])
def test_a_malformed_group_no_longer_crashes(group: object) -> None:
    doc = {"images": [{"group": group, "bounding_box": [{"id": "b", "data": [0, 0, 2, 2]}]}]}
    with pytest.raises(TypeError):
        legacy.render_shapes_from_doc(doc)
    assert [(s.tool, s.ann_id) for s in shapes_from_doc(doc)] == [("bounding_box", "b")]
