"""DM mask encodings and COCO RLE, checked against pycocotools."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from synapse_nb.converters import (
    MaskError,
    coco_rle_decode,
    coco_rle_encode,
    decode_mask,
    encode_mask,
    mask_encoding,
)

RAW = {"encoding": "raw_indices", "isCompressed": False, "compressionFormat": None}
RLE = {"encoding": "dm_rle", "isCompressed": True, "compressionFormat": "rle"}


def test_row_major_indexing_and_wrapping_runs():
    # 3x2 image: index = y * 3 + x; the run [2, 2] wraps from (2, 0) to (0, 1).
    mask = decode_mask({**RLE, "data": [[2, 2]]}, 3, 2)
    assert mask.tolist() == [[False, False, True], [True, False, False]]
    assert decode_mask({**RAW, "data": [2, 3]}, 3, 2).tolist() == mask.tolist()


@pytest.mark.parametrize("encoding", ["dm_rle", "raw_indices"])
def test_encode_decode_round_trip(encoding):
    rng = np.random.default_rng(1)
    for _ in range(50):
        h, w = rng.integers(1, 30, 2)
        m = rng.random((h, w)) < 0.4
        payload = encode_mask(m, encoding)
        assert payload["encoding"] == encoding
        assert mask_encoding(payload) == encoding
        assert np.array_equal(decode_mask(payload, int(w), int(h)), m)


@pytest.mark.parametrize(
    ("payload", "match"),
    [
        ({**RAW, "encoding": None, "data": [1]}, "encoding must be"),
        ({**RAW, "isCompressed": True, "data": [1]}, "isCompressed"),
        ({**RLE, "compressionFormat": None, "data": [[0, 1]]}, "compressionFormat"),
        ({**RAW, "data": [3, 1]}, "sorted"),
        ({**RAW, "data": [1, 1]}, "sorted"),
        ({**RAW, "data": [6]}, r"0\.\.5"),
        ({**RAW, "data": [-1]}, r"0\.\.5"),
        ({**RAW, "data": [1.5]}, "integer"),
        ({**RLE, "data": [[0, 0]]}, "length > 0"),
        ({**RLE, "data": [[0, 3], [2, 1]]}, "overlaps"),
        ({**RLE, "data": [[4, 3]]}, "ends past 6"),
        ({**RLE, "data": [1, 2]}, "pairs"),
    ],
)
def test_invalid_masks_are_rejected(payload, match):
    with pytest.raises(MaskError, match=match) as info:
        decode_mask(payload, 3, 2)
    assert info.value.code == "INVALID_MASK_ENCODING"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pycocotools vs numpy 2
def test_coco_rle_matches_pycocotools_exactly():
    rng = np.random.default_rng(0)
    shapes = [(1, 1), (1, 7), (7, 1), (40, 30), (480, 640)]
    for h, w in shapes:
        for density in (0.0, 0.05, 0.5, 1.0):
            m = (rng.random((h, w)) < density).astype(np.uint8)
            reference = coco_mask.encode(np.asfortranarray(m))
            ours = coco_rle_encode(m)
            assert ours["counts"] == reference["counts"].decode("ascii")
            assert ours["size"] == [h, w]
            assert np.array_equal(coco_mask.decode({**ours, "counts": ours["counts"].encode()}), m)
            assert np.array_equal(coco_rle_decode(reference), m.astype(bool))


def test_coco_rle_decode_accepts_uncompressed_counts_and_checks_totals():
    assert coco_rle_decode({"size": [2, 2], "counts": [1, 2, 1]}).tolist() == [
        [False, True],
        [True, False],
    ]
    with pytest.raises(MaskError, match="add up"):
        coco_rle_decode({"size": [2, 2], "counts": [1, 2]})
    with pytest.raises(MaskError, match="size"):
        coco_rle_decode({"counts": "13"})
