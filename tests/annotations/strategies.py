"""Hypothesis strategies for DM documents: tolerant-reader inputs (any shape) and valid ones."""

from __future__ import annotations

import string

from hypothesis import strategies as st

MEDIA_KEYS = ("images", "videos", "pcds", "texts", "audios", "prompts", "datas")
TOOLS = (
    "bounding_box", "polygon", "polyline", "keypoint", "segmentation", "classification",
    "relation", "group", "3d_bounding_box", "named_entity", "mystery",
)  # fmt: skip
LABELS = ("car", "person", "road", "nose", "left_eye", "")

finite = st.floats(min_value=-50, max_value=400, allow_nan=False, allow_infinity=False)
coord = st.one_of(st.integers(-10, 300), finite)
#: One branch (a nested one_of would be flattened and outweigh the well-formed branches).
junk = st.sampled_from([None, True, False, "", "ab", float("nan"), float("inf"), 7])
number_or_junk = st.one_of(coord, coord, coord, junk)
ids = st.one_of(
    st.text(string.ascii_letters + string.digits, min_size=1, max_size=4),
    st.none(),
    st.integers(0, 9),
)
visibility = st.one_of(
    st.sampled_from([0, 1, 2, "visible", "occluded", "missing", "Visible", "OCCLUDED"]),
    st.sampled_from([3, -1, True, None, "seen", 1.0]),
)
attr_names = st.sampled_from(["score", "confidence", "rotation", "color", "_internal", "truncated"])
attr_values = st.one_of(
    st.floats(-3, 3, allow_nan=False),
    st.integers(-2, 2),
    st.text(max_size=3),
    st.none(),
    st.booleans(),
)
attrs_list = st.lists(
    st.one_of(
        st.fixed_dictionaries({"name": attr_names, "value": attr_values}),
        st.fixed_dictionaries({"value": attr_values}),
        st.integers(),
    ),
    max_size=4,
)
attrs = st.one_of(
    attrs_list, attrs_list, st.dictionaries(attr_names, attr_values, max_size=3), st.none()
)
point = st.one_of(
    st.tuples(coord, coord).map(list),
    st.tuples(coord, coord).map(list),
    st.lists(number_or_junk, min_size=2, max_size=3),
    st.tuples(coord, coord),
    junk,
)
mask_data = st.one_of(
    st.lists(st.integers(0, 400), max_size=12, unique=True).map(sorted),
    st.lists(st.tuples(st.integers(0, 300), st.integers(1, 20)).map(list), max_size=5),
    st.dictionaries(st.sampled_from(["start", "end"]), st.integers(0, 9), max_size=2),
    st.none(),
)


def data_for(tool: str) -> st.SearchStrategy:
    if tool in ("bounding_box", "3d_bounding_box"):
        return st.one_of(st.lists(number_or_junk, min_size=3, max_size=5), junk)
    if tool in ("polygon", "polyline"):
        return st.one_of(st.lists(point, max_size=6), junk)
    if tool == "keypoint":
        return st.one_of(st.lists(number_or_junk, min_size=1, max_size=3), junk)
    if tool == "segmentation":
        return mask_data
    if tool in ("relation", "group"):
        return st.one_of(st.lists(ids, max_size=3), st.none())
    return st.one_of(st.just({}), junk)


@st.composite
def v2_annotation(draw: st.DrawFn, tool: str) -> dict:
    ann: dict = {}
    ann["id"] = draw(ids)
    if draw(st.integers(0, 4)):
        ann["classification"] = draw(st.one_of(st.sampled_from(LABELS), junk))
    if draw(st.booleans()):
        ann["attrs"] = draw(attrs)
    if draw(st.integers(0, 5)):
        ann["data"] = draw(data_for(tool))
    if tool == "keypoint" and draw(st.booleans()):
        ann["visibility"] = draw(visibility)
    if draw(st.integers(0, 3)) == 0:
        ann["group_id"] = draw(st.one_of(ids, st.integers()))
    if tool == "segmentation" and draw(st.booleans()):
        ann["encoding"] = draw(st.sampled_from(["dm_rle", "raw_indices", "other", None]))
        ann["isCompressed"] = draw(st.one_of(st.booleans(), st.none()))
        ann["compressionFormat"] = draw(st.sampled_from(["rle", None]))
    if draw(st.integers(0, 4)) == 0:
        ann["score"] = draw(attr_values)
    return ann


@st.composite
def v2_media(draw: st.DrawFn) -> dict:
    tools = draw(st.lists(st.sampled_from(TOOLS), max_size=5, unique=True))
    item: dict = {}
    for tool in tools:
        item[tool] = draw(
            st.one_of(
                st.lists(v2_annotation(tool), max_size=4),
                st.lists(v2_annotation(tool), max_size=4),
                junk,
            )
        )
    return item


@st.composite
def v2_document(draw: st.DrawFn) -> dict:
    doc: dict = {}
    keys = draw(st.lists(st.sampled_from(MEDIA_KEYS), max_size=3, unique=True))
    if "images" not in keys and draw(st.booleans()):
        keys.insert(0, "images")
    for key in keys:
        doc[key] = draw(
            st.one_of(st.lists(st.one_of(v2_media(), v2_media(), junk), max_size=3), junk)
        )
    if draw(st.booleans()):
        doc["classification"] = {"bounding_box": ["car"]}
    return doc


# ---------------------------------------------------------------------------- v1 (any shape)

V1_TOOLS = (
    "bounding_box", "boundingBox", "polygon", "polyLine", "keypoint", "segmentation",
    "classification", "relation", "3dBoundingBox", "namedEntity", "mystery",
)  # fmt: skip
media_ids = st.sampled_from(["image_1", "image_2", "video_1", "pcd_1", "odd", "text_x"])


@st.composite
def v1_geometry(draw: st.DrawFn, tool: str, row_id: object) -> dict:
    row: dict = {"id": row_id}
    if tool in ("bounding_box", "boundingBox"):
        if draw(st.integers(0, 4)):
            row["coordinate"] = {k: draw(number_or_junk) for k in ("x", "y", "width", "height")}
            if draw(st.booleans()):
                row["coordinate"]["rotation"] = draw(st.one_of(st.just(0), finite, st.none()))
        else:
            row["coordinate"] = draw(junk)
    elif tool in ("polygon", "polyLine"):
        row["coordinate"] = draw(
            st.one_of(
                st.lists(
                    st.one_of(
                        st.fixed_dictionaries({"x": number_or_junk, "y": number_or_junk}), junk
                    ),
                    max_size=5,
                ),
                junk,
            )
        )
    elif tool == "keypoint":
        row["coordinate"] = draw(
            st.one_of(st.fixed_dictionaries({"x": number_or_junk, "y": number_or_junk}), junk)
        )
    elif tool == "segmentation":
        if draw(st.integers(0, 3)) == 0:
            row["section"] = {"start": 1, "end": 5}
        else:
            row["pixel_indices"] = draw(mask_data)
            row["isCompressed"] = draw(st.one_of(st.booleans(), st.none()))
            row["compressionFormat"] = draw(st.sampled_from(["rle", None]))
    elif tool == "relation":
        row["annotationId"] = draw(ids)
        row["targetAnnotationId"] = draw(ids)
    elif tool == "3dBoundingBox":
        row["psr"] = {"position": [0, 0, 0]}
    return row


@st.composite
def v1_document(draw: st.DrawFn) -> dict:
    doc: dict = {"annotations": {}, "annotationsData": {}}
    for media_id in draw(st.lists(media_ids, max_size=3, unique=True)):
        rows, data_rows = [], []
        for _ in range(draw(st.integers(0, 4))):
            tool = draw(st.sampled_from(V1_TOOLS))
            row_id = draw(ids)
            cls = draw(
                st.one_of(
                    st.dictionaries(
                        st.sampled_from(["class", "visibility", "color", "score"]),
                        st.one_of(st.sampled_from(LABELS), visibility),
                        max_size=3,
                    ),
                    junk,
                )
            )
            rows.append({"id": row_id, "tool": tool, "classification": cls})
            if draw(st.integers(0, 4)):
                data_rows.append(draw(v1_geometry(tool, row_id)))
        doc["annotations"][media_id] = draw(st.one_of(st.just(rows), st.just(rows), junk))
        doc["annotationsData"][media_id] = data_rows
        if draw(st.booleans()):
            members = [r["id"] for r in rows if draw(st.booleans())]
            doc.setdefault("annotationGroups", {})[media_id] = [
                {"id": draw(ids), "annotationIds": members}
            ]
        if draw(st.booleans()):
            doc.setdefault("extra", {})[media_id] = {
                "width": draw(st.one_of(st.integers(1, 64), st.none()))
            }
    return doc


# ------------------------------------------------------------ valid v2 (for v1 round trips)

WIDTH, HEIGHT = 40, 30
valid_ids = st.text(string.ascii_lowercase, min_size=3, max_size=6)
pos = st.floats(0, 35, allow_nan=False).map(lambda v: round(v, 2))
side = st.floats(0.5, 20, allow_nan=False).map(lambda v: round(v, 2))
valid_attrs = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(["score", "color", "rotation"]),
            "value": st.one_of(st.floats(0, 1, allow_nan=False), st.text(max_size=2)),
        }
    ),
    max_size=2,
    unique_by=lambda a: a["name"],
)


@st.composite
def valid_v2_document(draw: st.DrawFn) -> dict:
    names = iter(draw(st.lists(valid_ids, min_size=40, max_size=40, unique=True)))
    item: dict = {}

    def base(label: str) -> dict:
        return {"id": next(names), "classification": label, "attrs": draw(valid_attrs)}

    for _ in range(draw(st.integers(0, 3))):
        item.setdefault("bounding_box", []).append(
            {
                **base(draw(st.sampled_from(LABELS[:3]))),
                "data": [draw(pos), draw(pos), draw(side), draw(side)],
            }
        )
    for tool, least in (("polygon", 3), ("polyline", 2)):
        for _ in range(draw(st.integers(0, 2))):
            pts = draw(st.lists(st.tuples(pos, pos).map(list), min_size=least, max_size=5))
            item.setdefault(tool, []).append({**base("road"), "data": pts})
    groups = draw(st.lists(valid_ids.map(lambda s: "g" + s), max_size=2, unique=True))
    for _ in range(draw(st.integers(0, 4))):
        kp = {
            **base(draw(st.sampled_from(["nose", "left_eye"]))),
            "data": [draw(pos), draw(pos)],
            "visibility": draw(st.sampled_from([0, 1, 2])),
        }
        if groups and draw(st.booleans()):
            kp["group_id"] = draw(st.sampled_from(groups))
        item.setdefault("keypoint", []).append(kp)
    for _ in range(draw(st.integers(0, 2))):
        total = WIDTH * HEIGHT
        idx = sorted(draw(st.sets(st.integers(0, total - 1), min_size=1, max_size=15)))
        if draw(st.booleans()):
            mask = {
                "data": idx,
                "encoding": "raw_indices",
                "isCompressed": False,
                "compressionFormat": None,
            }
        else:
            mask = {
                "data": [[i, 1] for i in idx],
                "encoding": "dm_rle",
                "isCompressed": True,
                "compressionFormat": "rle",
            }
        item.setdefault("segmentation", []).append({**base("road"), **mask})
    if draw(st.booleans()):
        item["classification"] = [{**base("daytime"), "data": {}}]
    ann_ids = [a["id"] for anns in item.values() for a in anns]
    if len(ann_ids) >= 2 and draw(st.booleans()):
        item["relation"] = [{**base("near"), "data": ann_ids[:2]}]
    return {"images": [item]}
