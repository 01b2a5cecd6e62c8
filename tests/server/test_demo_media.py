"""Tests of the demo workspace's generated media and DM v2 annotations.

The generator is pure (no server involved): these tests render the real 200-item demo set once
per module into a temporary cache and check it against the DM v2 rules of docs/annotation-format.md
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from synapse_nb.server.demo import media
from synapse_nb.server.demo.media import (
    CLASSES,
    KEYPOINT_NAMES,
    LANE_CLASS,
    SKELETON,
    DemoItem,
    generate_item,
    generate_items,
    perturb,
    predictions,
)

N_ITEMS = 200
ID_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
IMAGE_TOOLS = ("bounding_box", "polygon", "polyline", "keypoint", "segmentation")
COCO_PERSON_17 = {
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
}  # fmt: skip


# ------------------------------------------------------------------------------------------
# A DM v2 checker written from docs/annotation-format.md (independent of the generator's code).


def _is_num(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _in_image(x: float, y: float, w: int, h: int) -> bool:
    return 0 <= x <= w and 0 <= y <= h


def _check_mask(ann: dict, w: int, h: int) -> list[str]:
    aid, enc, data = ann["id"], ann.get("encoding"), ann.get("data")
    if enc == "raw_indices":
        if ann.get("isCompressed") is not False or ann.get("compressionFormat") is not None:
            return [f"{aid}: raw_indices needs isCompressed false / compressionFormat null"]
        if not data or not all(isinstance(i, int) for i in data):
            return [f"{aid}: raw_indices data must be a non-empty list of ints"]
        if any(b <= a for a, b in itertools.pairwise(data)):
            return [f"{aid}: raw indices not strictly ascending"]
        if data[0] < 0 or data[-1] >= w * h:
            return [f"{aid}: raw index out of range 0..{w * h - 1}"]
        return []
    if enc == "dm_rle":
        if ann.get("isCompressed") is not True or ann.get("compressionFormat") != "rle":
            return [f"{aid}: dm_rle needs isCompressed true / compressionFormat 'rle'"]
        if not data:
            return [f"{aid}: empty rle"]
        end = 0
        for run in data:
            if not (
                isinstance(run, list) and len(run) == 2 and all(isinstance(v, int) for v in run)
            ):
                return [f"{aid}: rle run {run!r} is not [start, length]"]
            start, length = run
            if start < 0 or length <= 0:
                return [f"{aid}: rle run {run!r} invalid"]
            if start < end:
                return [f"{aid}: rle runs overlap or are unsorted at {run!r}"]
            end = start + length
        if end > w * h:
            return [f"{aid}: rle runs past the image ({end} > {w * h})"]
        return []
    return [f"{aid}: unknown encoding {enc!r}"]


def _check_geometry(tool: str, ann: dict, w: int, h: int) -> list[str]:
    aid, data = ann["id"], ann.get("data")
    if tool == "bounding_box":
        if not (isinstance(data, list) and len(data) == 4 and all(map(_is_num, data))):
            return [f"{aid}: bbox data {data!r}"]
        x, y, bw, bh = data
        if bw <= 0 or bh <= 0 or x < 0 or y < 0 or x + bw > w or y + bh > h:
            return [f"{aid}: bbox {data} not a positive box inside {w}x{h}"]
    elif tool in ("polygon", "polyline"):
        minimum = 3 if tool == "polygon" else 2
        if not (isinstance(data, list) and len(data) >= minimum):
            return [f"{aid}: {tool} needs >= {minimum} points"]
        if not all(isinstance(p, list) and len(p) == 2 and all(map(_is_num, p)) for p in data):
            return [f"{aid}: {tool} points must be [x, y]"]
        if not all(_in_image(x, y, w, h) for x, y in data):
            return [f"{aid}: {tool} point outside {w}x{h}"]
        if tool == "polygon" and data[0] == data[-1]:
            return [f"{aid}: polygon repeats its first point"]
    elif tool == "keypoint":
        if not (isinstance(data, list) and len(data) == 2 and all(map(_is_num, data))):
            return [f"{aid}: keypoint data {data!r}"]
        if not _in_image(*data, w, h):
            return [f"{aid}: keypoint outside the image"]
        if ann.get("visibility") not in (0, 1, 2):
            return [f"{aid}: visibility {ann.get('visibility')!r}"]
    elif tool == "segmentation":
        return _check_mask(ann, w, h)
    elif tool == "classification" and data != {}:
        return [f"{aid}: classification data must be {{}}"]
    return []


def _check_groups(item: dict) -> list[str]:
    problems = []
    keypoints = {k["id"]: k for k in item.get("keypoint", [])}
    seen: Counter[str] = Counter()
    for group in item.get("group", []):
        members = group["data"]
        seen.update(members)
        for kid in members:
            if kid not in keypoints:
                problems.append(f"{group['id']}: member {kid} is not a keypoint")
            elif keypoints[kid].get("group_id") != group["id"]:
                problems.append(f"{kid}: group_id does not name its group {group['id']}")
        tagged = {k for k, v in keypoints.items() if v.get("group_id") == group["id"]}
        if tagged != set(members):
            problems.append(f"{group['id']}: members differ from keypoints carrying its group_id")
    problems += [f"{kid}: in {n} groups" for kid, n in seen.items() if n > 1]
    problems += [f"{k}: ungrouped keypoint" for k in keypoints if k not in seen]
    return problems


def dm_v2_problems(doc: dict, w: int, h: int) -> list[str]:
    """Every rule violation found in a one-image DM v2 document of size w x h."""
    if set(doc) != {"classification", "images"} or len(doc["images"]) != 1:
        return ["top level must be {classification, images[1]}"]
    item, problems, ids = doc["images"][0], [], Counter()
    expected_map = {}
    for tool, anns in item.items():
        labels = set()
        for ann in anns:
            ids[ann.get("id")] += 1
            if not isinstance(ann.get("id"), str) or not ID_RE.match(ann["id"]):
                problems.append(f"bad id {ann.get('id')!r}")
                continue
            if not isinstance(ann.get("classification"), str) or not ann["classification"]:
                problems.append(f"{ann['id']}: classification must be a non-empty string")
            labels.add(ann.get("classification"))
            attrs = ann.get("attrs")
            if not isinstance(attrs, list) or not all(set(a) == {"name", "value"} for a in attrs):
                problems.append(f"{ann['id']}: attrs must be [{{name, value}}]")
            problems += _check_geometry(tool, ann, w, h)
        if labels:
            expected_map[tool] = sorted(labels)
    problems += [f"duplicate id {i}" for i, n in ids.items() if n > 1]
    problems += _check_groups(item)
    if doc["classification"] != expected_map:
        problems.append(f"top-level classification {doc['classification']} != {expected_map}")
    return problems


def decode_mask(ann: dict, w: int, h: int) -> np.ndarray:
    flat = np.zeros(w * h, dtype=bool)
    if ann["encoding"] == "raw_indices":
        flat[ann["data"]] = True
    else:
        for start, length in ann["data"]:
            flat[start : start + length] = True
    return flat.reshape(h, w)


def boxes(doc: dict) -> list[dict]:
    return doc["images"][0].get("bounding_box", [])


def iou(a: list[float], b: list[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    union = a[2] * a[3] + b[2] * b[3] - ix * iy
    return ix * iy / union if union else 0.0


def attr(ann: dict, name: str) -> object:
    return next(a["value"] for a in ann["attrs"] if a["name"] == name)


# ------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo_media")


@pytest.fixture(scope="module")
def cold(cache_dir: Path) -> tuple[list[DemoItem], float]:
    started = time.perf_counter()
    items = generate_items(N_ITEMS, cache_dir, seed=0)
    return items, time.perf_counter() - started


@pytest.fixture(scope="module")
def items(cold: tuple[list[DemoItem], float]) -> list[DemoItem]:
    return cold[0]


# ------------------------------------------------------------------------------------------
# Generation and cache


def test_cold_generation_writes_every_image(cold, cache_dir: Path) -> None:
    generated, seconds = cold
    print(f"cold generation of {N_ITEMS} items: {seconds:.2f} s")
    assert [i.index for i in generated] == list(range(N_ITEMS))
    assert [i.file_name for i in generated] == [f"scene_{i:04d}.jpg" for i in range(N_ITEMS)]
    for item in generated[:: N_ITEMS // 10]:
        with Image.open(cache_dir / item.file_name) as img:
            assert img.format == "JPEG"
            assert img.size == (item.width, item.height)
    # its speed is measured by benchmarks, not asserted here (a loaded machine is no failure)


def test_warm_cache_renders_nothing_and_keeps_files(
    items, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = [cache_dir / i.file_name for i in items]
    before = [p.stat().st_mtime_ns for p in paths]

    def no_render(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("the warm path rendered an image")

    monkeypatch.setattr(media, "_render", no_render)
    started = time.perf_counter()
    warm = generate_items(N_ITEMS, cache_dir, seed=0)
    elapsed = time.perf_counter() - started
    assert warm == items
    assert [p.stat().st_mtime_ns for p in paths] == before  # nothing rendered or rewritten
    print(f"warm call: {elapsed:.2f} s")


def test_cached_items_equal_fresh_generation(items, cache_dir: Path) -> None:
    for index in (0, 1, 57, 123, N_ITEMS - 1):
        item, jpeg = generate_item(index, seed=0)
        assert item == items[index]
        assert (cache_dir / item.file_name).read_bytes() == jpeg


def test_generation_is_deterministic() -> None:
    for index in range(12):
        first, second = generate_item(index, seed=3), generate_item(index, seed=3)
        assert first[0] == second[0]
        assert first[1] == second[1]
    other_item, other_jpeg = generate_item(5, seed=4)
    same_item, same_jpeg = generate_item(5, seed=3)
    assert other_jpeg != same_jpeg
    assert other_item.annotations != same_item.annotations


def test_stale_images_from_another_seed_are_replaced(tmp_path: Path) -> None:
    seed0 = generate_items(4, tmp_path, seed=0)
    bytes0 = [(tmp_path / i.file_name).read_bytes() for i in seed0]
    generate_items(4, tmp_path, seed=1)  # same file names, other pictures
    assert [(tmp_path / i.file_name).read_bytes() for i in seed0] != bytes0
    again = generate_items(4, tmp_path, seed=0)  # warm manifest, but the files changed
    assert again == seed0
    assert [(tmp_path / i.file_name).read_bytes() for i in again] == bytes0


def test_damaged_manifest_or_missing_image_is_regenerated(tmp_path: Path) -> None:
    first = generate_items(3, tmp_path, seed=2)
    manifests = list(tmp_path.glob("*.json"))
    assert len(manifests) == 1
    manifests[0].write_text("{not json", encoding="utf-8")
    (tmp_path / first[1].file_name).unlink()
    assert generate_items(3, tmp_path, seed=2) == first
    assert (tmp_path / first[1].file_name).read_bytes() == generate_item(1, seed=2)[1]
    assert json.loads(manifests[0].read_text(encoding="utf-8"))["n"] == 3


def test_bad_arguments_name_field_and_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"index.*-1"):
        generate_item(-1)
    with pytest.raises(TypeError, match=r"seed.*'0'"):
        generate_item(0, seed="0")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"index.*True"):
        generate_item(True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"n.*-2"):
        generate_items(-2, tmp_path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------
# Images


def test_images_are_varied_and_not_blank(items, cache_dir: Path) -> None:
    sizes = Counter((i.width, i.height) for i in items)
    assert len(sizes) >= 5
    assert any(h > w for w, h in sizes), "no portrait images"
    assert all(min(w, h) >= 480 and max(w, h) <= 1920 for w, h in sizes)
    for item in items:
        with Image.open(cache_dir / item.file_name) as img:
            img.draft("RGB", (item.width // 4, item.height // 4))  # fast reduced decode
            pixels = np.asarray(img.convert("RGB"), dtype=float)
        assert pixels.std() > 20, f"{item.file_name} looks blank"
        # texture: neighbouring pixels differ, unlike flat fills
        assert np.abs(np.diff(pixels, axis=1)).mean() > 1.0, f"{item.file_name} has no texture"


def test_scenes_vary(items) -> None:
    scenes = Counter(
        i.annotations["images"][0]["classification"][0]["classification"] for i in items
    )
    assert set(scenes) == {"street", "park", "indoor"}
    assert min(scenes.values()) >= 20


# ------------------------------------------------------------------------------------------
# Annotations


def test_every_document_is_valid_dm_v2(items) -> None:
    for item in items:
        problems = dm_v2_problems(item.annotations, item.width, item.height)
        assert problems == [], f"{item.file_name}: {problems[:5]}"


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        (lambda it: it["bounding_box"][1].update(id=it["bounding_box"][0]["id"]), "duplicate id"),
        (lambda it: it["bounding_box"][0].update(id="bad id!"), "bad id"),
        (lambda it: it["bounding_box"][0]["data"].__setitem__(0, 10_000.0), "not a positive box"),
        (lambda it: it["polygon"][0].update(data=[[1, 1], [2, 2]]), "needs >= 3 points"),
        (lambda it: it["keypoint"][0].update(visibility=3), "visibility"),
        (lambda it: it["keypoint"][0].update(group_id="grp_9999"), "group_id"),
        (lambda it: it["group"][0]["data"].pop(), "members differ"),
        (lambda it: it["segmentation"][0]["data"].reverse(), "rle runs overlap or are unsorted"),
        (lambda it: it["segmentation"][0].update(isCompressed=False), "dm_rle needs"),
        (lambda it: it["bounding_box"][0].update(classification="zebra"), "top-level"),
    ],
)
def test_the_checker_catches_broken_documents(items, breakage, expected: str) -> None:
    # Find a document with every tool the breakages touch, then break one thing at a time.
    for item in items:
        image = item.annotations["images"][0]
        rle = [s for s in image["segmentation"] if s["encoding"] == "dm_rle" and len(s["data"]) > 1]
        if image["polygon"] and image["group"] and rle and len(image["bounding_box"]) > 1:
            break
    else:
        pytest.fail("no document with polygon, group and multi-run rle mask")
    doc = copy.deepcopy(item.annotations)  # items are shared by the module: never mutate them
    rle = copy.deepcopy(rle)
    doc["images"][0]["segmentation"] = rle[:1]
    doc["classification"]["segmentation"] = [rle[0]["classification"]]
    assert dm_v2_problems(doc, item.width, item.height) == []
    breakage(doc["images"][0])
    problems = dm_v2_problems(doc, item.width, item.height)
    assert any(expected in p for p in problems), problems


def test_every_tool_and_attribute_is_exercised(items) -> None:
    tools, visibility, encodings, flags = Counter(), Counter(), Counter(), Counter()
    for item in items:
        image = item.annotations["images"][0]
        assert len(image["bounding_box"]) >= 3, item.file_name
        for tool in (*IMAGE_TOOLS, "group"):
            tools[tool] += len(image[tool])
        visibility.update(k["visibility"] for k in image["keypoint"])
        encodings.update(s["encoding"] for s in image["segmentation"])
        for box in image["bounding_box"]:
            flags.update(f for f in ("occluded", "truncated") if attr(box, f) is True)
    assert all(tools[t] > 0 for t in (*IMAGE_TOOLS, "group")), tools
    assert set(visibility) == {0, 1, 2}
    assert set(encodings) == {"raw_indices", "dm_rle"}
    assert flags["occluded"] > 0 and flags["truncated"] > 0
    assert 0 < tools["segmentation"] < tools["bounding_box"] / 5  # "a few" masks


def test_class_imbalance(items) -> None:
    counts = Counter(b["classification"] for i in items for b in boxes(i.annotations))
    assert set(counts) == set(CLASSES) and len(CLASSES) >= 5
    ranked = counts.most_common()
    assert ranked[0][1] >= 5 * ranked[-1][1], ranked
    assert counts["car"] > 5 * counts["stop_sign"]


def test_classes_present_matches_boxes(items) -> None:
    for item in items:
        labels = {b["classification"] for b in boxes(item.annotations)}
        assert item.classes_present == tuple(c for c in CLASSES if c in labels)


def test_person_skeletons(items) -> None:
    assert set(KEYPOINT_NAMES) <= COCO_PERSON_17  # so COCO/YOLO pose export accepts them
    assert all(0 <= a < len(KEYPOINT_NAMES) and 0 <= b < len(KEYPOINT_NAMES) for a, b in SKELETON)
    for item in items:
        image = item.annotations["images"][0]
        keypoints = {k["id"]: k for k in image["keypoint"]}
        persons = [b for b in image["bounding_box"] if b["classification"] == "person"]
        assert len(image["group"]) == len(persons)
        for group in image["group"]:
            assert group["classification"] == "person"
            names = [keypoints[k]["classification"] for k in group["data"]]
            assert sorted(names) == sorted(KEYPOINT_NAMES)
            # visible joints lie within some person box
            for kid in group["data"]:
                kp = keypoints[kid]
                if kp["visibility"] == 2:
                    x, y = kp["data"]
                    assert any(
                        b["data"][0] - 1 <= x <= b["data"][0] + b["data"][2] + 1
                        and b["data"][1] - 1 <= y <= b["data"][1] + b["data"][3] + 1
                        for b in persons
                    ), f"{item.file_name} {kid}"


def test_geometry_matches_the_objects(items) -> None:
    for item in items:
        image = item.annotations["images"][0]
        by_class: dict[str, list[list[float]]] = {}
        for box in image["bounding_box"]:
            by_class.setdefault(box["classification"], []).append(box["data"])
            x, y, w, h = box["data"]
            if attr(box, "truncated"):
                assert x == 0 or y == 0 or x + w == item.width or y + h == item.height
        for poly in image["polygon"]:
            xs, ys = [p[0] for p in poly["data"]], [p[1] for p in poly["data"]]
            extent = (min(xs), min(ys), max(xs), max(ys))
            # the outline is the drawn shape, so its extent is the tight box up to rounding
            assert any(
                max(
                    abs(e - c)
                    for e, c in zip(extent, (b[0], b[1], b[0] + b[2], b[1] + b[3]), strict=True)
                )
                <= 2.5
                for b in by_class[poly["classification"]]
            ), f"{item.file_name} {poly['id']}"
        for seg in image["segmentation"]:
            mask = decode_mask(seg, item.width, item.height)
            rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
            assert any(
                b[0] <= cols[0]
                and cols[-1] < b[0] + b[2]
                and b[1] <= rows[0]
                and rows[-1] < b[1] + b[3]
                for b in by_class[seg["classification"]]
            ), f"{item.file_name} {seg['id']} outside every {seg['classification']} box"
        for line in image["polyline"]:
            assert line["classification"] == LANE_CLASS
            assert attr(line, "style") in ("solid", "dashed")


def test_pixels_under_annotations_show_the_object(items, cache_dir: Path) -> None:
    checked = Counter()
    for item in items:
        image = item.annotations["images"][0]
        polys = [
            p for p in image["polygon"] if p["classification"] in ("stop_sign", "traffic_light")
        ]
        if not polys:
            continue
        with Image.open(cache_dir / item.file_name) as img:
            pixels = np.asarray(img.convert("RGB"), dtype=float)
        for poly in polys:
            canvas = Image.new("L", (item.width, item.height), 0)
            ImageDraw.Draw(canvas).polygon([tuple(p) for p in poly["data"]], fill=1)
            r, g, b = pixels[np.asarray(canvas, dtype=bool)].mean(axis=0)
            if poly["classification"] == "stop_sign":
                assert r > g + 60 and r > b + 60, (item.file_name, r, g, b)  # red octagon
            else:
                assert (r + g + b) / 3 < 110, (item.file_name, r, g, b)  # dark housing
            checked[poly["classification"]] += 1
    assert checked["stop_sign"] > 0 and checked["traffic_light"] > 0


def test_masks_follow_the_drawn_edges(items, cache_dir: Path) -> None:
    # A mask that matches the drawing has its border on colour edges; the same mask moved by
    # a few pixels does not. Compare the mean edge strength along both borders.
    wins, ratios = 0, []
    for item in items:
        segs = item.annotations["images"][0]["segmentation"]
        if not segs:
            continue
        with Image.open(cache_dir / item.file_name) as img:
            pixels = np.asarray(img.convert("RGB"), dtype=float)
        for seg in segs:
            full = decode_mask(seg, item.width, item.height)
            rows, cols = np.flatnonzero(full.any(axis=1)), np.flatnonzero(full.any(axis=0))
            window = np.s_[max(rows[0] - 8, 0) : rows[-1] + 9, max(cols[0] - 8, 0) : cols[-1] + 9]
            mask, edges = full[window], _edge_strength(pixels[window])
            real = edges[_border(mask)].mean()
            shifted = max(
                edges[_border(np.roll(mask, shift, axis))].mean()
                for shift in (-4, 4)
                for axis in (0, 1)
            )
            wins += real > shifted
            ratios.append(real / shifted)
    assert ratios, "no masks"
    assert wins >= 0.95 * len(ratios), sorted(ratios)[:10]
    assert np.median(ratios) > 1.3


def _edge_strength(pixels: np.ndarray) -> np.ndarray:
    """Per pixel: the largest colour step to a 4-neighbour."""
    dx = np.abs(np.diff(pixels, axis=1)).sum(axis=2)
    dy = np.abs(np.diff(pixels, axis=0)).sum(axis=2)
    out = np.zeros(pixels.shape[:2])
    out[:, 1:] = np.maximum(out[:, 1:], dx)
    out[:, :-1] = np.maximum(out[:, :-1], dx)
    out[1:] = np.maximum(out[1:], dy)
    out[:-1] = np.maximum(out[:-1], dy)
    return out


def _border(mask: np.ndarray) -> np.ndarray:
    """Pixels on either side of the mask's boundary."""
    return (_dilate(mask, 1) & ~mask) | (mask & _dilate(~mask, 1))


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    out = mask.copy()
    for _ in range(steps):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


# ------------------------------------------------------------------------------------------
# Compare-mode sources


def test_perturb_changes_exactly_the_documented_things(items) -> None:
    for item in items[:60]:
        original = copy.deepcopy(item.annotations)
        changed = perturb(item.annotations, seed=item.index)
        assert item.annotations == original, "perturb modified its input"
        assert dm_v2_problems(changed, item.width, item.height) == []
        old = {b["id"]: b for b in boxes(original)}
        new = {b["id"]: b for b in boxes(changed)}
        assert len(old.keys() - new.keys()) == 1, "exactly one box removed"
        assert len(new.keys() - old.keys()) == 1, "exactly one box added"
        kept = old.keys() & new.keys()
        relabelled = [k for k in kept if new[k]["classification"] != old[k]["classification"]]
        moved = [k for k in kept if new[k]["data"] != old[k]["data"]]
        assert len(relabelled) == 1 and new[relabelled[0]]["data"] == old[relabelled[0]]["data"]
        assert new[relabelled[0]]["classification"] in CLASSES
        assert moved and not set(moved) & set(relabelled)
        assert all(new[k]["classification"] == old[k]["classification"] for k in moved)
        assert all(iou(new[k]["data"], old[k]["data"]) < 0.97 for k in moved)
        for tool in ("polygon", "polyline", "keypoint", "segmentation", "group"):
            assert changed["images"][0][tool] == original["images"][0][tool]


def test_perturb_is_deterministic_per_seed(items) -> None:
    doc = items[7].annotations
    assert perturb(doc, seed=5) == perturb(doc, seed=5)
    assert perturb(doc, seed=5) != perturb(doc, seed=6)


def test_predictions_without_misses_or_false_positives_match_one_to_one(items) -> None:
    for item in items[:60]:
        preds = predictions(item.annotations, seed=1, miss_rate=0.0, fp_rate=0.0)
        assert dm_v2_problems(preds, item.width, item.height) == []
        gt, pred = boxes(item.annotations), boxes(preds)
        assert len(pred) == len(gt)
        unmatched = list(gt)
        for p in pred:
            match = max(unmatched, key=lambda g: iou(p["data"], g["data"]))
            assert match["classification"] == p["classification"]
            assert iou(p["data"], match["data"]) >= 0.6
            assert 0.55 <= attr(p, "score") <= 0.99
            unmatched.remove(match)
        scores = [attr(p, "score") for p in pred]
        assert scores == sorted(scores, reverse=True)


def test_predictions_have_misses_and_false_positives(items) -> None:
    n_gt = n_tp = n_fp = 0
    for item in items:
        gt = boxes(item.annotations)
        preds = boxes(predictions(item.annotations, seed=item.index))
        n_gt += len(gt)
        for p in preds:
            best = max(gt, key=lambda g: iou(p["data"], g["data"]))
            if (
                iou(p["data"], best["data"]) >= 0.6
                and best["classification"] == p["classification"]
            ):
                n_tp += 1
                assert attr(p, "score") >= 0.55
            else:
                n_fp += 1
                assert all(iou(p["data"], g["data"]) < 0.3 for g in gt)
                assert attr(p, "score") <= 0.6
    miss_share = 1 - n_tp / n_gt
    assert 0.05 < miss_share < 0.16, miss_share  # default miss_rate 0.1
    assert 0.05 * n_gt < n_fp < 0.16 * n_gt, (n_fp, n_gt)  # default fp_rate 0.1


def test_predictions_extremes_and_determinism(items) -> None:
    doc = items[3].annotations
    assert boxes(predictions(doc, seed=0, miss_rate=1.0, fp_rate=0.0)) == []
    assert predictions(doc, seed=9) == predictions(doc, seed=9)
    assert predictions(doc, seed=9) != predictions(doc, seed=10)


def test_compare_sources_reject_bad_input(items) -> None:
    doc = items[0].annotations
    with pytest.raises(ValueError, match=r"miss_rate.*1\.5"):
        predictions(doc, seed=0, miss_rate=1.5)
    with pytest.raises(ValueError, match=r"fp_rate.*-0\.1"):
        predictions(doc, seed=0, fp_rate=-0.1)
    with pytest.raises(ValueError, match=r"fp_rate.*nan"):
        predictions(doc, seed=0, fp_rate=float("nan"))
    with pytest.raises(ValueError, match=r"images"):
        perturb({"classification": {}, "images": []}, seed=0)
    broken = copy.deepcopy(doc)
    broken["images"][0]["bounding_box"][0]["data"] = [1, 2, 3]
    with pytest.raises(ValueError, match=r"bounding_box'\]\[0\]\['data'\].*\[1, 2, 3\]"):
        predictions(broken, seed=0)
    with pytest.raises(ValueError, match=r"seed.*-3"):
        perturb(doc, seed=-3)


def test_cold_generation_says_what_it_renders_and_a_warm_call_says_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_items(8, tmp_path, seed=3)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == f"synapse_nb: rendering 8 demo images into {tmp_path} (first start only)..."
    assert any(line.startswith("synapse_nb:   2/8 images") for line in lines)
    assert lines[-1].startswith("synapse_nb: 8 demo images ready in ")
    generate_items(8, tmp_path, seed=3)
    assert capsys.readouterr().err == ""
