"""Shared DM documents and helpers for the converter tests (imported by name)."""

from __future__ import annotations

import numpy as np

from synapse_nb.converters import encode_mask

# A worked example of the DM format: one 640x480 image with a box, a polygon and a
# 3-keypoint group.
SPEC_EXAMPLE = {
    "classification": {
        "bounding_box": ["car"],
        "polygon": ["road"],
        "keypoint": ["left_eye", "nose", "right_eye"],
        "group": ["person"],
    },
    "images": [
        {
            "bounding_box": [
                {
                    "id": "bbox000001",
                    "classification": "car",
                    "attrs": [{"name": "occluded", "value": False}],
                    "data": [100, 120, 200, 80],
                }
            ],
            "polygon": [
                {
                    "id": "poly000001",
                    "classification": "road",
                    "attrs": [],
                    "data": [[10, 400], [300, 400], [200, 470]],
                }
            ],
            "polyline": [],
            "keypoint": [
                {
                    "id": "kpt0000001",
                    "classification": "nose",
                    "attrs": [],
                    "data": [320, 100],
                    "visibility": 2,
                    "group_id": "grp0000001",
                },
                {
                    "id": "kpt0000002",
                    "classification": "left_eye",
                    "attrs": [],
                    "data": [310, 90],
                    "visibility": 1,
                    "group_id": "grp0000001",
                },
                {
                    "id": "kpt0000003",
                    "classification": "right_eye",
                    "attrs": [],
                    "data": [330, 90],
                    "visibility": 2,
                    "group_id": "grp0000001",
                },
            ],
            "relation": [],
            "group": [
                {
                    "id": "grp0000001",
                    "classification": "person",
                    "attrs": [],
                    "data": ["kpt0000001", "kpt0000002", "kpt0000003"],
                }
            ],
        }
    ],
}


def item(data: dict, item_id=1, width=640, height=480, file_name="a.jpg") -> dict:
    return {"id": item_id, "data": data, "width": width, "height": height, "file_name": file_name}


def doc(**tools) -> dict:
    return {"images": [tools]}


def mask_ann(ann_id: str, label: str, mask: np.ndarray, encoding: str = "dm_rle") -> dict:
    return {"id": ann_id, "classification": label, "attrs": [], **encode_mask(mask, encoding)}


def reasons(audit) -> list[tuple]:
    return sorted(
        ((r.annotation_id, str(r.outcome), str(r.reason_code)) for r in audit),
        key=lambda t: (t[0] or "", t[1], t[2]),
    )
