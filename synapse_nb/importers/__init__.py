"""Getting labelled data and predictions in: read, match to tasks, then a frame or the server.

Every import is the inverse of an exporter of :mod:`synapse_nb.converters`, and reuses its
parsing; what a format cannot carry is in the readers' :class:`~synapse_nb.converters.Audit`.

1. **Read** — :func:`read_predictions` (format sniffed, or ``format=``) or one reader:
   :func:`read_coco` (instances / keypoints files), :func:`read_coco_results` (a results
   list + the instances file or maps), :func:`read_voc_folder`, :func:`read_yolo_labels`
   (detect / segment / pose, optional confidence column), :func:`read_dm` (DM v1/v2),
   :func:`labels_from_frame` (an item frame with ``data``, the annotations view, a
   predictions frame) and :func:`read_ground_truth` (a ground-truth or predictions dataset
   version on the server). All
   return :class:`Labels`: one :class:`LabelledImage` (a DM v2 document, read by the one
   annotation model of :mod:`synapse_nb.annotations`) per image, keyed by file name, with
   the confidence as each annotation's ``score`` attribute.
2. **Match** — :func:`match_to_tasks` against a task frame, by file name (tolerant of case,
   extension and directories; rules in :mod:`~synapse_nb.importers.matching`) or by id;
   its :class:`Matching` has the pairs and a report frame of what did not match.
3. **Target** — :func:`predictions_frame` (no server write; the annotations view's columns
   plus ``score``, ``source``, ``file_name``: :data:`PREDICTION_COLUMNS`), or
   :func:`import_to_tasks` (pre-annotations through ``annotate_task_data``, everything
   validated before the first write, with a progress bar and an :class:`ImportResult`).

A whole labelled dataset folder (images + labels) goes in with :func:`import_folder`:
data units, one task each and their annotations, resumably.

Example:
    >>> results = [{"image_id": 4, "category_id": 1, "bbox": [10, 10, 30, 20], "score": 0.8}]
    >>> labels = read_predictions(results, categories={1: "car"}, images={4: "scene_0003.jpg"})
    >>> tasks = client.list_tasks({"project": 1}, list_all=True)
    >>> preds = predictions_frame(labels, match_to_tasks(labels, tasks), source="yolo-v8")
    >>> preds[["class_name", "w", "h", "score", "source"]].values.tolist()
    [['car', 30.0, 20.0, 0.8, 'yolo-v8']]
    >>> tasks.loc[preds.task_id[0], "file_name"]
    'scene_0003.jpg'
"""

from synapse_nb.importers.coco import read_coco, read_coco_results
from synapse_nb.importers.dm import read_dm
from synapse_nb.importers.errors import ImportFormatError
from synapse_nb.importers.folder import FOLDER_FORMATS, FolderImport, import_folder
from synapse_nb.importers.frame import PREDICTION_COLUMNS, predictions_frame
from synapse_nb.importers.frames_in import ListsGroundTruth, labels_from_frame, read_ground_truth
from synapse_nb.importers.labels import LabelledImage, Labels
from synapse_nb.importers.matching import MATCH_BY, Matching, match_to_tasks, normalize_name
from synapse_nb.importers.readers import FORMATS, read_predictions, sniff_format
from synapse_nb.importers.tasks import AnnotatesTasks, ImportResult, import_to_tasks
from synapse_nb.importers.validate import document_problems
from synapse_nb.importers.voc import read_voc_folder
from synapse_nb.importers.yolo import read_yolo_labels

__all__ = [
    "FOLDER_FORMATS",
    "FORMATS",
    "MATCH_BY",
    "PREDICTION_COLUMNS",
    "AnnotatesTasks",
    "FolderImport",
    "ImportFormatError",
    "ImportResult",
    "LabelledImage",
    "Labels",
    "ListsGroundTruth",
    "Matching",
    "document_problems",
    "import_folder",
    "import_to_tasks",
    "labels_from_frame",
    "match_to_tasks",
    "normalize_name",
    "predictions_frame",
    "read_coco",
    "read_coco_results",
    "read_dm",
    "read_ground_truth",
    "read_predictions",
    "read_voc_folder",
    "read_yolo_labels",
    "sniff_format",
]
