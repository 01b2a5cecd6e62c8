"""COCO-protocol evaluation of detections against ground truth."""
