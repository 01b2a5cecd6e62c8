"""DM <-> COCO / Pascal VOC / YOLO converters (work in progress; see module docstrings)."""
