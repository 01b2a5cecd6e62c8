"""The preview's renderer and matcher on hand-made documents (no server, no widget)."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image, JpegImagePlugin

from synapse_nb.converters import dm_v2_to_v1, encode_mask
from synapse_nb.widgets._colors import EXTRA, MATCHED, MISSED, class_color
from synapse_nb.widgets._render import (
    RenderOptions,
    Shape,
    encode_image,
    match_shapes,
    open_display,
    render,
    shapes_from_doc,
)

BLACK = (0, 0, 0)


def canvas(width: int = 100, height: int = 80) -> Image.Image:
    return Image.new("RGB", (width, height), BLACK)


def doc_of(**tools) -> dict:
    return {"images": [tools]}


def at(image: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    return image.getpixel((x, y))


def box(ann_id, label, data, **extra) -> dict:
    return {"id": ann_id, "classification": label, "attrs": [], "data": data, **extra}


# ---------------------------------------------------------------------------- matching


def test_scored_predictions_match_by_score_first():
    gt = [Shape("bounding_box", "car", [0, 0, 10, 10])]
    high = Shape("bounding_box", "car", [2, 0, 10, 10], score=0.9)  # IoU 0.667
    low = Shape("bounding_box", "car", [0, 0, 10, 10], score=0.5)  # IoU 1.0
    result = match_shapes(gt, [low, high], 0.5)
    assert [(a.data, b.score) for a, b, _ in result.matched] == [([0, 0, 10, 10], 0.9)]
    assert result.extra == [low]
    assert result.matched[0][2] == pytest.approx(80 / 120)


def test_unscored_sources_match_the_best_overlap_first():
    a = [Shape("bounding_box", "car", [0, 0, 10, 10]), Shape("bounding_box", "car", [6, 0, 10, 10])]
    b = [Shape("bounding_box", "car", [5, 0, 10, 10])]
    result = match_shapes(a, b, 0.3)
    assert result.matched[0][0] is a[1] and result.missed == [a[0]]


def test_classes_never_match_each_other_and_the_threshold_is_inclusive():
    a = [Shape("bounding_box", "car", [0, 0, 10, 10]), Shape("bounding_box", "bus", [0, 0, 4, 4])]
    b = [Shape("bounding_box", "bus", [0, 0, 10, 10]), Shape("bounding_box", "bus", [0, 0, 4, 2])]
    result = match_shapes(a, b, 0.5)  # the small bus pair has IoU exactly 0.5
    assert result.counts() == {"matched": 1, "missed": 1, "extra": 1}
    assert result.by_class() == {
        "bus": {"matched": 1, "missed": 0, "extra": 1},
        "car": {"matched": 0, "missed": 1, "extra": 0},
    }
    assert match_shapes(a, b, 0.51).counts()["matched"] == 0


def test_compare_shapes_are_drawn_in_outcome_colours():
    a = [
        Shape("bounding_box", "car", [10, 10, 30, 30]),
        Shape("bounding_box", "car", [60, 10, 20, 20]),
    ]
    b = [
        Shape("bounding_box", "car", [11, 10, 30, 30]),
        Shape("bounding_box", "dog", [10, 50, 20, 20]),
    ]
    result = match_shapes(a, b, 0.5)
    drawn = render(canvas(), result.shapes(), options=RenderOptions(show_labels=False))
    assert at(drawn, 10, 25) == MATCHED
    assert at(drawn, 60, 20) == MISSED
    assert at(drawn, 10, 60) == EXTRA


# ---------------------------------------------------------------------------- drawing


def test_box_polygon_polyline_are_drawn_in_their_class_colour():
    doc = doc_of(
        bounding_box=[box("b", "car", [10, 10, 30, 20])],
        polygon=[box("p", "road", [[50, 50], [90, 50], [90, 75]])],
        polyline=[box("l", "lane", [[0, 70], [40, 70]])],
    )
    drawn = render(canvas(), shapes_from_doc(doc), options=RenderOptions(show_labels=False))
    assert at(drawn, 10, 20) == class_color("car")
    assert at(drawn, 90, 60) == class_color("road")  # outline
    fill = at(drawn, 85, 53)  # inside: translucent over black
    assert fill != BLACK and fill != class_color("road")
    assert at(drawn, 20, 70) == class_color("lane")
    assert at(drawn, 70, 30) == BLACK


def test_rotated_box_turns_about_its_centre():
    straight = render(canvas(), [Shape("bounding_box", "car", [30, 30, 40, 10])])
    turned = render(
        canvas(), [Shape("bounding_box", "car", [30, 30, 40, 10], rotation=math.pi / 2)]
    )
    assert at(straight, 30, 35) == class_color("car")
    # a quarter turn about (50, 35) makes a 10x40 box: its left edge is at x = 45
    assert at(turned, 45, 35) == class_color("car")
    assert at(turned, 30, 35) == BLACK


def test_keypoints_visibility_and_skeleton():
    def joint(name, x, y, v):
        return {
            "id": name,
            "classification": name,
            "data": [x, y],
            "visibility": v,
            "group_id": "g",
        }

    doc = doc_of(
        keypoint=[joint("a", 20, 20, 2), joint("b", 80, 20, 1), joint("c", 50, 70, 0)],
        group=[{"id": "g", "classification": "person", "data": ["a", "b", "c"]}],
    )
    options = RenderOptions(show_labels=False, skeleton=(("a", "b"), ("a", "c")))
    drawn = render(canvas(), shapes_from_doc(doc), options=options)
    color = class_color("person")
    assert at(drawn, 20, 20) == color  # visible: filled
    assert at(drawn, 50, 20) == color  # edge a-b between two labelled joints
    assert at(drawn, 80, 20) == BLACK  # occluded: hollow, over the edge a-b
    assert at(drawn, 78, 20) == color
    assert at(drawn, 35, 45) == BLACK  # edge a-c is not drawn: c is missing
    assert at(drawn, 50, 70) == BLACK


def mask_doc(encoding: str, mask: np.ndarray) -> dict:
    ann = {"id": "m", "classification": "dog", "attrs": [], **encode_mask(mask, encoding)}
    return doc_of(segmentation=[ann])


def test_masks_in_both_encodings_draw_the_same_pixels():
    mask = np.zeros((80, 100), dtype=bool)
    mask[20:40, 30:60] = True
    options = RenderOptions(show_labels=False)
    raw = render(canvas(), shapes_from_doc(mask_doc("raw_indices", mask)), options=options)
    rle = render(canvas(), shapes_from_doc(mask_doc("dm_rle", mask)), options=options)
    assert np.array_equal(np.asarray(raw), np.asarray(rle))
    inside = at(raw, 45, 30)
    assert inside != BLACK and inside != class_color("dog")  # tinted, not opaque
    assert at(raw, 30, 30) == class_color("dog")  # the outline is opaque
    assert at(raw, 10, 10) == BLACK


def test_masks_are_decoded_at_source_size_and_scaled():
    mask = np.zeros((160, 200), dtype=bool)
    mask[40:80, 60:120] = True
    drawn = render(
        canvas(),
        shapes_from_doc(mask_doc("dm_rle", mask)),
        source_size=(200, 160),
        options=RenderOptions(show_labels=False),
    )
    assert at(drawn, 45, 30) != BLACK  # (90, 60) in source pixels
    assert at(drawn, 20, 10) == BLACK


def test_malformed_annotations_are_skipped_not_fatal():
    doc = doc_of(
        bounding_box=[
            box("b1", "car", [0, 0, -5, 3]),
            box("b2", "car", "x"),
            box("b3", "car", [1, 1, 5, 5]),
        ],
        polygon=[box("p", "road", [[0, 0], [1, 1]])],
        segmentation=[
            {
                "id": "s",
                "classification": "dog",
                "data": [[5, -2]],
                "encoding": "dm_rle",
                "isCompressed": True,
                "compressionFormat": "rle",
            }
        ],
    )
    shapes = shapes_from_doc(doc)
    assert [s.ann_id for s in shapes] == ["s", "b3"]
    drawn = render(canvas(), shapes)  # the bad mask is left out while drawing
    assert at(drawn, 1, 3) == class_color("car")
    assert shapes_from_doc({}) == [] and shapes_from_doc("not dm") == []


def test_v1_documents_draw_like_their_v2_form():
    v2 = doc_of(
        bounding_box=[box("b1", "car", [10, 10, 30, 20])],
        polygon=[box("p1", "road", [[50, 50], [90, 50], [90, 75]])],
    )
    v1, _audit = dm_v2_to_v1(v2)
    assert "annotations" in v1
    a = render(canvas(), shapes_from_doc(v2))
    b = render(canvas(), shapes_from_doc(v1))
    assert np.array_equal(np.asarray(a), np.asarray(b))


def test_hidden_classes_and_labels():
    shapes = [
        Shape("bounding_box", "car", [10, 30, 30, 20]),
        Shape("bounding_box", "dog", [50, 30, 30, 20]),
    ]
    with_labels = render(canvas(), shapes)
    no_labels = render(canvas(), shapes, options=RenderOptions(show_labels=False))
    assert at(with_labels, 10, 22) == class_color("car")  # label background above the box
    assert at(no_labels, 10, 22) == BLACK
    only_dog = render(canvas(), shapes, options=RenderOptions(hidden=frozenset({"car"})))
    assert at(only_dog, 10, 40) == BLACK and at(only_dog, 50, 40) == class_color("dog")


def test_classification_badges_show_the_label_and_attrs():
    doc = doc_of(
        classification=[
            {
                "id": "c",
                "classification": "street",
                "data": {},
                "attrs": [{"name": "time", "value": "day"}],
            }
        ]
    )
    drawn = render(canvas(200, 60), shapes_from_doc(doc))
    assert at(drawn, 3, 4) == class_color("street")


# ---------------------------------------------------------------------------- images


def jpeg(width: int, height: int) -> bytes:
    gradient = np.linspace(0, 255, width, dtype=np.uint8)
    array = np.repeat(np.repeat(gradient[None, :, None], height, 0), 3, 2)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_full_hd_jpeg_opens_at_display_size():
    image, size = open_display(jpeg(1920, 1080), (960, 720))
    assert size == (1920, 1080) and image.size == (960, 540) and image.mode == "RGB"
    small, size = open_display(jpeg(300, 200), (960, 720))
    assert size == (300, 200) and small.size == (300, 200)  # never upscaled


def test_encode_png_and_jpeg():
    picture = canvas()
    png = encode_image(picture, "png")
    assert Image.open(io.BytesIO(png)).format == "PNG"
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(picture))
    assert Image.open(io.BytesIO(encode_image(picture, "jpeg"))).format == "JPEG"


def test_jpeg_keeps_thin_coloured_outlines_at_full_colour_resolution():
    """No chroma subsampling: a 1 px outline keeps its colour instead of bleeding into grey."""
    picture = Image.new("RGB", (120, 80), (128, 128, 128))
    shapes = [Shape("bounding_box", label, [10 + 30 * i, 10, 20, 50])
              for i, label in enumerate(("car", "person", "bus"))]
    drawn = render(picture, shapes, options=RenderOptions(show_labels=False, line_width=1))
    decoded = Image.open(io.BytesIO(encode_image(drawn, "jpeg")))
    assert JpegImagePlugin.get_sampling(decoded) == 0  # 4:4:4
    exact, lossy = np.asarray(drawn, int), np.asarray(decoded.convert("RGB"), int)
    outline = (exact != 128).any(axis=2)
    assert outline.sum() > 300
    assert np.abs(lossy - exact).max(axis=2)[outline].mean() < 12


@pytest.mark.parametrize(
    ("encoding", "data"),
    [
        ("dm_rle", [[25, 30], [190, 20]]),  # runs that wrap rows
        ("dm_rle", [[1180, 20]]),  # down to the last pixel
        ("raw_indices", [0, 1, 99, 100, 1199]),
        ("dm_rle", []),
        # malformed: each is refused exactly as a whole-image decode refuses it
        ("dm_rle", [[5, -2]]),
        ("dm_rle", [[30, 5], [10, 5]]),
        ("dm_rle", [[1190, 20]]),
        ("dm_rle", [[-5, 10]]),
        ("dm_rle", [[True, 3]]),
        ("dm_rle", [10, 3]),
        ("raw_indices", [3, 2]),
        ("raw_indices", [1.0, 2]),
    ],
)
def test_a_mask_is_decoded_only_in_its_rows_and_checked_as_a_whole(encoding, data):
    from synapse_nb.annotations.masks import MaskError, decode_mask
    from synapse_nb.widgets._render import _mask_rows

    fields = {"dm_rle": (True, "rle"), "raw_indices": (False, None)}[encoding]
    ann = {"encoding": encoding, "isCompressed": fields[0], "compressionFormat": fields[1]}
    shape = Shape("segmentation", "dog", data, encoding=ann)
    try:
        whole = decode_mask({"data": data, **ann}, 100, 12)
    except MaskError:
        with pytest.raises(MaskError):
            _mask_rows(shape, 100, 12)
        return
    top, band = _mask_rows(shape, 100, 12)
    assert band.shape[1] == 100 and len(band) <= 12 - top
    # the band holds the whole mask: the rows around it are empty
    assert np.array_equal(whole[top : top + len(band)], band) and whole.sum() == band.sum()
