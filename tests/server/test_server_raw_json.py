"""Listing pages splice stored annotation JSON in verbatim; it must equal the decoded form."""

from __future__ import annotations

TRICKY = {
    "images": [
        {
            "bounding_box": [
                {"id": "a1", "classification": "자동차", "attrs": [], "data": [1.5, 2, 3e-7, 4]}
            ]
        }
    ],
    "note": "\u0000raw-00000000-0\u0000",  # looks like the placeholder, must survive as text
    "quotes": 'say "hi" \\ there\n',
    "nested": {"empty": {}, "list": [[], [None, True, False]]},
}


def test_listing_pages_carry_the_same_data_as_the_detail(api, make):
    project = make.project()["id"]
    unit = make.data_unit(make.collection()["id"])["id"]
    task = make.task(project, unit, data=TRICKY, metadata={"k": "ü"})["id"]
    stored = api.put(f"tasks/{task}/annotate_task_data/", json=TRICKY)
    assert stored.status_code == 200 and stored.json()["data"] == TRICKY
    page = api.get("sdk/tasks/", params={"project": project}).json()
    assert [t["id"] for t in page["results"]] == [task]
    listed = page["results"][0]
    assert listed["data"] == TRICKY == api.get(f"tasks/{task}/").json()["data"]
    assert listed["metadata"] == {"k": "ü"}
    data_view = api.get("sdk/tasks/data/", params={"project": project}).json()["results"]
    assert data_view == [{"id": task, "data": TRICKY}]
