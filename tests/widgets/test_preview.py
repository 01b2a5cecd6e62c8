# ruff: noqa: F811 - pytest fixtures imported from part_a_helpers are redefined as arguments
"""AnnotationPreview: state, rendering and compare mode, against the embedded demo backend.

The widget runs on a dummy comm; the tests drive it as the browser would (button clicks,
checkbox and slider updates) and check both its synced state and the pixels it draws.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from part_a_helpers import (  # noqa: F401 - fixtures
    client_a,
    demo_a,
    descendants,
    dummy_comm,
    frontend_click,
    frontend_update,
    journal_mark,
    requests_since,
    sent_updates,
    version_ids,
)
from PIL import Image
from traitlets import TraitError

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.utils.file import download_file
from synapse_nb.widgets._colors import MATCHED, MISSED, PALETTE, class_color, register_classes
from synapse_nb.widgets._render import box_iou, open_display, shapes_from_doc
from synapse_nb.widgets.preview import SINGLE_SIZE, THUMB_SIZE, AnnotationPreview

pytestmark = pytest.mark.usefixtures("dummy_comm")


@pytest.fixture(scope="module")
def versions(demo_a):
    return version_ids(demo_a)


@pytest.fixture(scope="module")
def gt_v1(client_a, versions):
    return client_a.list_ground_truth_events(
        {"ground_truth_dataset_versions": [versions[("Street GT", "v1")]]},
        list_all=True,
        include_data=True,
    )


@pytest.fixture(scope="module")
def gt_v2(client_a, versions):
    return client_a.list_ground_truth_events(
        {"ground_truth_dataset_versions": [versions[("Street GT", "v2")]]},
        list_all=True,
        include_data=True,
    )


@pytest.fixture(scope="module")
def predictions(client_a, versions):
    return client_a.list_ground_truth_events(
        {"ground_truth_dataset_versions": [versions[("yolo-v8n 2.0.0 predictions", "v1")]]},
        list_all=True,
        include_data=True,
    )


def pixels(png: bytes) -> np.ndarray:
    """Exact pixels: the widget must have sent a PNG (``image_format="png"``)."""
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        return np.asarray(image.convert("RGB"))


def shown(image_widget) -> np.ndarray:
    """Pixels of an Image widget in whatever format it sent, checked against its trait."""
    with Image.open(io.BytesIO(bytes(image_widget.value))) as image:
        assert image.format == image_widget.format.upper()
        return np.asarray(image.convert("RGB"))


def boxes_of(doc) -> list[tuple[str, list[float]]]:
    return [(s.label, s.data) for s in shapes_from_doc(doc) if s.tool == "bounding_box"]


def edge_has_color(image: np.ndarray, box, scale: float, color) -> bool:
    """Some pixel within 1 px of the box's left edge, half-way down, has ``color``."""
    x, y, _w, h = (v * scale for v in box)
    cx, cy = round(x), round(y + h / 2)
    window = image[max(cy - 1, 0) : cy + 2, max(cx - 1, 0) : cx + 2].reshape(-1, 3)
    return any(tuple(p) == color for p in window)


def class_box(preview: AnnotationPreview, label: str):
    for widget in descendants(preview._legend):
        if getattr(widget, "_snb_label", None) == label:
            return widget
    raise AssertionError(f"no legend checkbox for {label!r}")


# ---------------------------------------------------------------------------- loading


def test_init_sends_nothing_and_downloads_nothing(demo_a, client_a, tmp_path):
    tasks = client_a.list_tasks({"project": 1})  # no data column: data must be fetched later
    mark = journal_mark(demo_a)
    preview = AnnotationPreview(tasks, cache_dir=tmp_path)
    assert requests_since(demo_a, mark) == []
    assert list(tmp_path.iterdir()) == []
    state = preview.get_state()
    assert state["loaded"] is False and state["current_id"] is None
    assert state["row_count"] == len(tasks)
    assert preview._image.value == b""


def test_load_draws_the_first_row_and_fetches_data_by_id(demo_a, client_a, tmp_path):
    tasks = client_a.list_tasks({"project": 1, "status": "completed"})
    mark = journal_mark(demo_a)
    preview = AnnotationPreview(tasks, cache_dir=tmp_path).load()
    new = requests_since(demo_a, mark)
    data_requests = [r for r in new if r["path"].endswith("/tasks/") and "id__in" in r["query"]]
    assert len(data_requests) == 1  # one batch of rows, not one request per row
    first_id = int(tasks.index[0])
    assert f"{first_id}" in data_requests[0]["query"]
    state = preview.get_state()
    assert state["loaded"] is True
    assert state["current_id"] == first_id
    assert preview._image.format == "jpeg"  # "auto": the demo's photos are JPEGs
    image = shown(preview._image)
    width, height = int(tasks.iloc[0].width), int(tasks.iloc[0].height)
    scale = min(1.0, SINGLE_SIZE[0] / width, SINGLE_SIZE[1] / height)
    assert image.shape[:2] == (round(height * scale), round(width * scale))
    assert list(tmp_path.iterdir()), "the image was not cached on disk"
    # the classes in the legend are the frame's classes plus the skeleton groups' class
    expected = set(tasks.iloc[0].classes)
    assert expected <= set(state["classes"])
    # the drawn image went to the frontend as the Image widget's value
    assert sent_updates(preview._image)[-1] == {
        "format": "jpeg",  # with its bytes, in one message
        "value": bytes(preview._image.value),
    }


def test_each_box_has_its_class_colour_and_hiding_every_class_leaves_the_photo(gt_v1, tmp_path):
    row = gt_v1[gt_v1.n_bounding_box >= 4].iloc[0]
    position = gt_v1.index.get_loc(row.name)
    preview = AnnotationPreview(
        gt_v1, cache_dir=tmp_path, index=position, image_format="png"
    ).load()
    preview.show_labels = False  # labels may sit on a box edge
    boxes = boxes_of(row.data)
    for label in {label for label, _ in boxes}:
        # one class at a time, so another class's shape cannot cover the edge
        preview.hidden_classes = [c for c in preview.classes if c != label]
        image = pixels(preview._image.value)
        scale = image.shape[1] / int(row.width)
        for name, box in boxes:
            if name == label:
                assert edge_has_color(image, box, scale, class_color(label)), (label, box)

    preview.hidden_classes = list(preview.classes)
    bare, _size = open_display(download_file(row.file_url, tmp_path), SINGLE_SIZE)
    assert np.array_equal(pixels(preview._image.value), np.asarray(bare))


def test_class_toggle_from_the_browser_hides_that_class_only(gt_v1, tmp_path):
    row = gt_v1[gt_v1.n_bounding_box >= 4].iloc[0]
    preview = AnnotationPreview(
        gt_v1, cache_dir=tmp_path, index=gt_v1.index.get_loc(row.name), image_format="png"
    ).load()
    before = pixels(preview._image.value)
    labels = sorted({label for label, _ in boxes_of(row.data)})
    target = labels[0]
    frontend_update(class_box(preview, target), value=False)
    assert preview.get_state()["hidden_classes"] == [target]
    after = pixels(preview._image.value)
    assert not np.array_equal(before, after)
    scale = after.shape[1] / int(row.width)
    others_still = [
        edge_has_color(after, box, scale, class_color(label))
        for label, box in boxes_of(row.data)
        if label != target and class_color(label) != class_color(target)
    ]
    gone = [
        edge_has_color(after, box, scale, class_color(target))
        for label, box in boxes_of(row.data)
        if label == target
    ]
    assert not any(gone) or class_color(target) in {class_color(x) for x in labels[1:]}
    assert sum(others_still) >= 0.7 * len(others_still)
    frontend_update(class_box(preview, target), value=True)
    assert preview.hidden_classes == []
    assert np.array_equal(pixels(preview._image.value), before)


def test_labels_off_from_the_browser(gt_v1, tmp_path):
    preview = AnnotationPreview(gt_v1, cache_dir=tmp_path, image_format="png").load()
    with_labels = pixels(preview._image.value)
    frontend_update(preview._labels_box, value=False)
    assert preview.get_state()["show_labels"] is False
    without = pixels(preview._image.value)
    assert not np.array_equal(with_labels, without)
    # label backgrounds are solid class colours: fewer such pixels without labels
    color = class_color(gt_v1.iloc[0].classes[0])
    count = lambda img: int((img == color).all(axis=2).sum())  # noqa: E731
    assert count(without) < count(with_labels)


def test_prev_next_clicks_move_through_rows_and_stop_at_the_ends(gt_v1, tmp_path):
    frame = gt_v1.head(3)
    preview = AnnotationPreview(frame, cache_dir=tmp_path).load()
    ids, owners = [], []
    preview.on_row_change(lambda p: ids.append(p.current_id))
    preview.on_row_change(owners.append)
    frontend_click(preview._prev)
    assert preview.index == 0 and ids == []
    frontend_click(preview._next)
    frontend_click(preview._next)
    frontend_click(preview._next)
    assert preview.get_state()["index"] == 2
    assert ids == [int(frame.index[1]), int(frame.index[2])]
    assert owners == [preview, preview]
    assert "3</b> / 3" in preview._position.value
    preview.on_row_change(owners.append, remove=True)
    frontend_click(preview._prev)
    assert preview.current_id == int(frame.index[1])
    assert ids[-1] == int(frame.index[1]) and len(owners) == 2


def test_select_by_id_and_bad_index(gt_v1, tmp_path):
    preview = AnnotationPreview(gt_v1.head(5), cache_dir=tmp_path)
    preview.select(int(gt_v1.index[3]))
    assert preview.index == 3
    with pytest.raises(TraitError, match=r"index=5 is outside the frame's rows 0\.\.4"):
        preview.index = 5
    with pytest.raises(InvalidInputError, match=r"row_id=999999"):
        preview.select(999999)


def test_auto_sends_jpeg_for_jpeg_photos_only_and_the_format_trait_redraws(tmp_path):
    """"auto": a JPEG source goes out as JPEG, a PNG source and a placeholder as exact PNGs;
    the Image widget's format always names its bytes, and changing image_format redraws."""
    gradient = np.linspace(0, 255, 320, dtype=np.uint8)
    photo = Image.fromarray(np.stack([np.tile(gradient, (200, 1))] * 3, axis=2))
    photo.save(tmp_path / "photo.png")
    photo.save(tmp_path / "photo.jpg", quality=95)
    doc = {"images": [{"bounding_box": [
        {"id": "b1", "classification": "car", "attrs": [], "data": [20, 20, 200, 120]}]}]}
    frame = pd.DataFrame({
        "file_url": [str(tmp_path / "photo.png"), str(tmp_path / "photo.jpg"), None],
        "data": [doc] * 3, "width": [320] * 3, "height": [200] * 3,
    })  # fmt: skip
    preview = AnnotationPreview(frame, cache_dir=tmp_path / "cache").load()
    sent = []
    for position in range(3):
        preview.index = position
        sent.append(preview._image.format)
        shown(preview._image)  # the bytes are what the trait says
    assert sent == ["png", "jpeg", "png"]
    exact = pixels(AnnotationPreview(frame, cache_dir=tmp_path / "cache").load()._image.value)
    assert (exact == class_color("car")).all(axis=2).sum() > 100

    preview.index = 1
    frontend_update(preview, image_format="png")
    assert preview.get_state()["image_format"] == "png"
    assert sent_updates(preview._image)[-1]["format"] == "png"
    assert (pixels(preview._image.value) == class_color("car")).all(axis=2).sum() > 100
    preview.index = 0  # a PNG source...
    preview.image_format = "jpeg"  # ...sent as asked
    assert sent_updates(preview._image)[-1] == {
        "format": "jpeg", "value": bytes(preview._image.value)}
    lossy = shown(preview._image).astype(int)
    assert np.abs(lossy - exact).mean() < 2  # quality 90: no visible loss
    with pytest.raises(TraitError):
        preview.image_format = "gif"


# ---------------------------------------------------------------------------- colours


def test_class_colours_are_the_same_in_another_process_and_image():
    """A registered class list (what the preview does on load) is coloured the same anywhere."""
    names = ["car", "person", "traffic_light", "차량"]
    code = (
        "from synapse_nb.widgets._colors import class_color, register_classes; "
        f"register_classes({names[::-1]!r}); "
        f"print([class_color(n) for n in {names!r}])"
    )
    register_classes(names)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    assert other == str([class_color(n) for n in names])
    assert all(class_color(n) in PALETTE for n in names)


def test_one_class_one_colour_across_images(gt_v1, tmp_path):
    cars = gt_v1[gt_v1.classes.apply(lambda c: "car" in list(c))].head(2)
    preview = AnnotationPreview(cars, cache_dir=tmp_path, image_format="png").load()
    found = []
    for position in range(2):
        preview.index = position
        image = pixels(preview._image.value)
        row = cars.iloc[position]
        scale = image.shape[1] / int(row.width)
        found.append(
            any(
                edge_has_color(image, box, scale, class_color("car"))
                for label, box in boxes_of(row.data)
                if label == "car"
            )
        )
    assert found == [True, True]


# ---------------------------------------------------------------------------- gallery


def test_gallery_shows_24_thumbnails_pages_and_opens_one(gt_v1, tmp_path):
    preview = AnnotationPreview(gt_v1, cache_dir=tmp_path).load()
    frontend_update(preview._mode_toggle, index=1)  # ToggleButtons sync the index
    state = preview.get_state()
    assert state["mode"] == "gallery" and state["page"] == 0
    cells = preview._grid.children
    assert len(cells) == 24
    for cell in cells:
        thumb = shown(cell.children[0])
        assert thumb.shape[0] <= THUMB_SIZE[1] and thumb.shape[1] <= THUMB_SIZE[0]
    captions = [cell.children[1].description for cell in cells]
    assert captions[0] == f"1 · id {int(gt_v1.index[0])}"
    frontend_click(preview._next)
    assert preview.page == 1
    assert preview._grid.children[0].children[1].description.startswith("25 · id ")
    frontend_click(preview._grid.children[2].children[1])
    assert preview.mode == "single" and preview.index == 26
    assert preview.current_id == int(gt_v1.index[26])


def test_last_gallery_page_is_short_and_page_is_checked(gt_v1, tmp_path):
    frame = gt_v1.head(30)
    preview = AnnotationPreview(frame, cache_dir=tmp_path, mode="gallery").load()
    preview.page = 1
    assert len(preview._grid.children) == 6
    assert "rows 25-30 of 30" in preview._position.value
    with pytest.raises(TraitError, match=r"page=2 is outside the gallery pages 0\.\.1"):
        preview.page = 2


# ---------------------------------------------------------------------------- compare


def check_comparison(result, a_doc, b_doc, threshold):
    a_boxes = boxes_of(a_doc)
    b_boxes = boxes_of(b_doc)
    counts = result.counts()
    assert counts["matched"] + counts["missed"] == len(a_boxes)
    assert counts["matched"] + counts["extra"] == len(b_boxes)
    for a, b, iou in result.matched:
        assert a.label == b.label and iou >= threshold
        assert iou == pytest.approx(box_iou(np.array([a.data]), np.array([b.data]))[0, 0])
    # greedy leaves no missed/extra pair of one class that could still match
    for missed in result.missed:
        for extra in result.extra:
            if missed.label == extra.label:
                iou = box_iou(np.array([missed.data]), np.array([extra.data]))[0, 0]
                assert iou < threshold


def test_compare_predictions_with_ground_truth(gt_v1, predictions, tmp_path):
    preview = AnnotationPreview(
        gt_v1, compare=predictions, compare_labels=("GT", "yolo"), cache_dir=tmp_path
    ).load()
    assert preview.compare_mode
    totals = {"matched": 0, "missed": 0, "extra": 0}
    for position in range(12):
        preview.index = position
        row = gt_v1.iloc[position]
        pred = predictions[predictions.data_unit_id == row.data_unit_id].iloc[0]
        result = preview.comparison()
        check_comparison(result, row.data, pred.data, 0.5)
        state = preview.get_state()["compare_counts"]
        assert {k: state[k] for k in totals} == result.counts()
        for key in totals:
            totals[key] += state[key]
    assert totals["matched"] > 0 and totals["missed"] + totals["extra"] > 0
    legend = preview._legend.children[0].value
    assert "GT</b> vs <b>yolo" in legend and "only in GT" in legend


def test_compare_colours_and_threshold_slider(gt_v1, predictions, tmp_path):
    preview = AnnotationPreview(
        gt_v1, compare=predictions, cache_dir=tmp_path, image_format="png"
    ).load()
    # a row with both a match and a miss shows both colours
    for position in range(len(gt_v1)):
        preview.index = position
        counts = preview.compare_counts
        if counts["matched"] and counts["missed"]:
            break
    else:
        pytest.fail("no row with a matched and a missed box")
    image = pixels(preview._image.value)
    for color in (MATCHED, MISSED):
        assert (image == color).all(axis=2).sum() > 20, color
    before = dict(preview.compare_counts)
    frontend_update(preview._iou_slider, value=0.95)
    assert preview.get_state()["iou_threshold"] == 0.95
    after = preview.compare_counts
    assert after["threshold"] == 0.95
    assert after["matched"] <= before["matched"]
    assert after["matched"] + after["missed"] == before["matched"] + before["missed"]


def test_compare_versions_finds_the_reviewers_changes(gt_v1, gt_v2, tmp_path):
    preview = AnnotationPreview(gt_v1, compare=gt_v2, cache_dir=tmp_path).load()
    assert preview._labels == ("v1", "v2")
    changed = 0
    for position in range(10):
        preview.index = position
        row = gt_v1.iloc[position]
        other = gt_v2[gt_v2.data_unit_id == row.data_unit_id].iloc[0]
        result = preview.comparison()
        check_comparison(result, row.data, other.data, 0.5)
        counts = result.counts()
        if len(boxes_of(row.data)) >= 3:
            # v2 removes one box and adds another, so each side has one the other lacks
            assert counts["missed"] >= 1 and counts["extra"] >= 1
            changed += 1
    assert changed >= 3


def test_compare_gallery_captions_carry_counts(gt_v1, predictions, tmp_path):
    preview = AnnotationPreview(
        gt_v1.head(24), compare=predictions, mode="gallery", cache_dir=tmp_path
    ).load()
    captions = [c.children[1].description for c in preview._grid.children]
    assert len(captions) == 24
    assert all("✓" in c and "✗" in c for c in captions)
    totals = preview.compare_counts
    assert totals["matched"] == sum(int(c.split("✓")[1].split()[0]) for c in captions)


# ---------------------------------------------------------------------------- errors


def test_bad_input_is_refused_before_anything_is_sent(demo_a, client_a, gt_v1):
    mark = journal_mark(demo_a)
    with pytest.raises(InvalidInputError, match=r"invalid frame='list': must be a pandas"):
        AnnotationPreview([1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=r"needs a file_url column"):
        AnnotationPreview(pd.DataFrame({"a": [1]}))
    with pytest.raises(InvalidInputError, match=r"no live client"):
        AnnotationPreview(pd.DataFrame({"file_url": ["http://x/a.jpg"]}))
    with pytest.raises(InvalidInputError, match=r"compare_labels='AB'"):
        AnnotationPreview(gt_v1, compare=gt_v1, compare_labels="AB")
    with pytest.raises(InvalidInputError, match=r"image_format='gif'"):
        AnnotationPreview(gt_v1, image_format="gif")
    with pytest.raises(InvalidInputError, match=r"skeleton="):
        AnnotationPreview(gt_v1, skeleton=[("nose",)])
    with pytest.raises(InvalidInputError, match=r"iou_threshold=1.5: must be between 0 and 1"):
        AnnotationPreview(gt_v1, iou_threshold=1.5)
    assert requests_since(demo_a, mark) == []


def test_missing_and_broken_images_show_a_message(demo_a, gt_v1, tmp_path):
    frame = gt_v1.head(2).copy()
    frame["file_url"] = pd.array([None, demo_a.url + "media/nope/missing.jpg"], dtype="string")
    preview = AnnotationPreview(frame, cache_dir=tmp_path).load()
    assert "has no image URL" in preview._status.value
    assert pixels(preview._image.value).shape[2] == 3
    preview.next()
    assert "404" in preview._status.value and "snb-error" in preview._status.value


def test_a_frame_with_data_and_urls_works_without_a_client(gt_v1, tmp_path):
    plain = pd.DataFrame(
        {"file_url": gt_v1.file_url.head(2).tolist(), "data": gt_v1.data.head(2).tolist()}
    )
    preview = AnnotationPreview(plain, cache_dir=tmp_path).load()
    assert preview.current_id == 0
    assert set(preview.classes) >= set(gt_v1.iloc[0].classes)


def test_df_synapse_preview_opens_the_widget(client_a, gt_v1):
    widget = gt_v1.head(4).synapse.preview(mode="gallery")
    assert isinstance(widget, AnnotationPreview)
    assert widget.mode == "gallery" and widget._client is client_a


def test_legend_names_take_the_row_and_wrap(gt_v1, tmp_path):
    preview = AnnotationPreview(gt_v1, cache_dir=tmp_path).load()
    label = preview.classes[0]
    row = class_box(preview, label)
    name = next(
        w
        for w in descendants(preview._legend)
        if "snb-class-name" in getattr(w, "_dom_classes", ()) and label in w.value
    )
    layout = name.layout.get_state()
    assert layout["flex"] == "1 1 auto" and layout["min_width"] == "0"
    assert "white-space:normal;overflow-wrap:anywhere" in name.get_state()["value"]
    assert row.layout.get_state()["width"] == "28px"  # the checkbox keeps its size
