"""Memory of a listing: the snapshot kept for the write-back shares the frame's scalar arrays.

A 1M-row task frame would otherwise be held one and a half times: the snapshot's status,
priority, assignee and discard columns (and index) as copies. Sharing is safe only because
pandas copy-on-write keeps edits of the frame away from them; both halves are checked.
"""

from __future__ import annotations

import numpy as np

from synapse_nb.frames.build import build_frame
from synapse_nb.frames.schemas import SCHEMAS
from synapse_nb.frames.writeback import SnapshotStore, snapshot_values


def test_the_snapshot_shares_scalar_columns_and_edits_of_the_frame_stay_out():
    records = [
        {"id": i, "status": "pending", "assignee": i % 3 or None, "tags": [2, 1], "metadata": {}}
        for i in range(1, 7)
    ]
    frame = build_frame("task", records)
    store = SnapshotStore()
    snap = store.get(store.add(frame, SCHEMAS["task"].writable))
    assert snap is not None
    assert np.shares_memory(snap["assignee_id"].array._data, frame["assignee_id"].array._data)
    frame.loc[[1, 2], "status"] = "completed"
    frame["assignee_id"] = frame["assignee_id"].fillna(9)
    frame.at[3, "tags"].append(5)  # lists edited in place: the snapshot froze them
    assert snapshot_values("status", snap["status"]) == ["pending"] * 6
    assert snapshot_values("assignee_id", snap["assignee_id"]) == [1, 2, None, 1, 2, None]
    assert snapshot_values("tags", snap["tags"])[2] == (1, 2)
