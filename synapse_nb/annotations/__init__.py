"""One typed model of DM annotation data, shared by frames, the preview, the converters
and the demo backend.

DM is the Synapse annotation format; it exists in two versions. **Version 2** is a mapping
from media list keys (``images``, ``videos``, ``pcds``, ``texts``, ``audios``,
``prompts``, ``datas``) to lists of media items; each media item maps a tool name to a
list of annotations ``{"id", "classification", "attrs": [{"name", "value"}], "data"}``,
where ``data`` is the geometry: ``[x, y, w, h]`` for ``bounding_box`` (a ``rotation``
attribute turns it about its centre, in radians), ``[[x, y], ...]`` for ``polygon`` and
``polyline``, ``[x, y]`` for ``keypoint`` (with ``visibility`` 0/1/2 or
missing/occluded/visible, and ``group_id``), pixel indices or ``[start, length]`` runs for
an image ``segmentation`` (``encoding`` ``raw_indices`` or ``dm_rle``), member ids for a
``group`` (whose class is the class of its keypoints), ``[from, to]`` ids for a
``relation``. **Version 1** keys everything by media id (``image_1`` ...): label rows in
``annotations`` (``tool`` and a ``classification`` mapping holding ``class`` and the
other attributes), geometry rows in ``annotationsData`` (``coordinate``,
``pixel_indices``/``isCompressed``, ``section``, ``psr``), groups in
``annotationGroups`` and media sizes in ``extra``.

Modules:

- :mod:`~synapse_nb.annotations.model` — :func:`read_document` reads v1 and v2 into a
  :class:`Document` of :class:`MediaItem` of :class:`Annotation` (v2-shaped ``data``,
  ``attrs`` dict, ``visibility`` code, ``group_id``, mask ``encoding``), with
  ``bbox()``/``area()``/``score()``/``rotation()``/``points()`` per annotation.
- :mod:`~synapse_nb.annotations.geometry` — ``extent``, ``polygon_area``,
  ``box_corners``, ``box_iou`` / ``mask_iou`` / ``polygon_iou`` (pairwise matrices),
  ``iou_xywh`` (one pair), ``oks``, ``point_in_polygon``.
- :mod:`~synapse_nb.annotations.masks` — ``decode_mask``, ``mask_encoding``,
  ``mask_extent`` (box and pixel count straight from indices or runs).
- :mod:`~synapse_nb.annotations.media` — the one media type <-> list key map
  (:data:`MEDIA_TYPES`, :data:`MEDIA_KEYS`) and v1 tool names.
- :mod:`~synapse_nb.annotations.values` — numbers, visibility names, attributes, points.
- :mod:`~synapse_nb.annotations.skeleton` — COCO Person-17 joints and skeletons.

**Evaluation API** (:mod:`~synapse_nb.annotations.arrays`): for one document (first image
by default), :func:`box_arrays`, :func:`polygon_arrays`, :func:`mask_arrays` (needs the
image size) and :func:`keypoint_arrays` return a :class:`Detections` of parallel numpy
arrays — ``ids``, ``classes``, ``scores`` (NaN when not stated), ``boxes`` ``(N, 4)``
``x, y, w, h``, ``areas``, ``rotations`` — plus ``polygons`` (point arrays), ``masks``
``(N, H, W)`` or ``keypoints`` ``(N, J, 3)`` ``x, y, v`` with their ``joints``. Feed
``boxes`` to :func:`box_iou`, ``masks`` to :func:`mask_iou`, ``keypoints`` and ``areas``
to :func:`oks`.

Example:
    >>> gt = {"images": [{"bounding_box": [{"id": "a", "classification": "car",
    ...                                      "data": [0, 0, 10, 10]}]}]}
    >>> pred = {"images": [{"bounding_box": [{"id": "p", "classification": "car",
    ...         "data": [1, 0, 10, 10], "attrs": [{"name": "score", "value": 0.9}]}]}]}
    >>> g, p = box_arrays(gt), box_arrays(pred)
    >>> box_iou(g.boxes, p.boxes).round(2).tolist(), p.scores.tolist()
    ([[0.82]], [0.9])
"""

from synapse_nb.annotations.arrays import (
    Detections,
    box_arrays,
    keypoint_arrays,
    mask_arrays,
    polygon_arrays,
)
from synapse_nb.annotations.geometry import (
    box_corners,
    box_iou,
    extent,
    iou_xywh,
    mask_iou,
    oks,
    point_in_polygon,
    polygon_area,
    polygon_iou,
    polygon_mask,
)
from synapse_nb.annotations.masks import MaskError, decode_mask, mask_encoding, mask_extent
from synapse_nb.annotations.media import MEDIA_KEYS, MEDIA_TYPES, is_v1, v1_tool
from synapse_nb.annotations.model import (
    Annotation,
    Document,
    MediaItem,
    iter_annotations,
    read_document,
)
from synapse_nb.annotations.skeleton import (
    COCO_PERSON_SKELETON,
    PERSON_17,
    PERSON_17_SKELETON,
    skeleton_from_configuration,
)
from synapse_nb.annotations.values import VISIBILITY_NAMES, attrs_dict, visibility_code

__all__ = [
    "COCO_PERSON_SKELETON",
    "MEDIA_KEYS",
    "MEDIA_TYPES",
    "PERSON_17",
    "PERSON_17_SKELETON",
    "VISIBILITY_NAMES",
    "Annotation",
    "Detections",
    "Document",
    "MaskError",
    "MediaItem",
    "attrs_dict",
    "box_arrays",
    "box_corners",
    "box_iou",
    "decode_mask",
    "extent",
    "iou_xywh",
    "is_v1",
    "iter_annotations",
    "keypoint_arrays",
    "mask_arrays",
    "mask_encoding",
    "mask_extent",
    "mask_iou",
    "oks",
    "point_in_polygon",
    "polygon_area",
    "polygon_arrays",
    "polygon_iou",
    "polygon_mask",
    "read_document",
    "skeleton_from_configuration",
    "v1_tool",
    "visibility_code",
]
