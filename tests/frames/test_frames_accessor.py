"""df.synapse against a live backend: validation, tags, refresh, annotations, summary."""

from __future__ import annotations

import pandas as pd
import pytest
from frames_helpers import paths

from synapse_nb.exceptions import InvalidInputError
from synapse_nb.frames import Client, register_previewer
from synapse_nb.frames import accessor as accessor_module


def test_accessor_rejects_foreign_frames() -> None:
    with pytest.raises(AttributeError, match=r"synapse_nb\.Client"):
        _ = pd.DataFrame({"a": [1]}).synapse
    assert not hasattr(pd.DataFrame({"status": ["x"]}), "synapse")


def test_accessor_recognises_a_frame_that_lost_its_attrs(client: Client) -> None:
    frame = client.list_task_tags()
    plain = pd.DataFrame(frame.to_dict("list"), index=frame.index)
    plain.attrs = {}
    assert plain.synapse.kind == "task_tag"
    with pytest.raises(InvalidInputError, match="no live client"):
        plain.synapse.refresh()


def test_tag_by_name_and_id_in_one_batched_call(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    untagged = tasks[tasks["tags"].map(len) == 0].head(12)
    tag_ids = rw_client.list_task_tags({"project": 1})
    blurry = int(tag_ids.index[tag_ids["name"] == "blurry"][0])
    review = int(tag_ids.index[tag_ids["name"] == "needs-review"][0])
    rw.requests.clear()
    changes = untagged.synapse.tag(["needs-review", blurry])
    assert paths(rw, "POST") == ["/tasks/set_tags/"]
    assert changes["id"].tolist() == untagged.index.tolist()
    assert all(sorted(a) == sorted([review, blurry]) for a in changes["added"])
    assert all(r == [] for r in changes["removed"])
    # the frame is updated in place, and a fresh listing agrees
    assert all(sorted(t) == sorted([review, blurry]) for t in untagged["tags"])
    assert all("blurry" in names for names in untagged["tag_names"])
    again = rw_client.list_tasks({"id__in": ",".join(map(str, untagged.index))})
    assert all(sorted(t) == sorted([review, blurry]) for t in again["tags"])
    # tagging again changes nothing and says so (ids read from a frame are numpy ints)
    assert untagged.synapse.tag(tag_ids.index[tag_ids["name"] == "blurry"][0]).empty
    assert untagged.synapse.tag("blurry").empty
    # the parent frame saw no edit (its rows are stale, not changed by the user)
    assert tasks.synapse.diff().empty


def test_untag_and_replace(rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    tagged = tasks[tasks["tags"].map(len) > 0].head(5)
    first_tag = tagged["tags"].iloc[0][0]
    had_it = [pk for pk, t in tagged["tags"].items() if first_tag in t]
    changes = tagged.synapse.untag(first_tag)
    assert changes["id"].tolist() == had_it
    assert all(r == [first_tag] for r in changes["removed"])
    assert all(a == [] for a in changes["added"])
    fresh = rw_client.list_tasks({"id__in": ",".join(map(str, tagged.index))})
    assert all(first_tag not in t for t in fresh["tags"])
    replaced = fresh.synapse.tag(["gold"], replace=True)
    gold = int(rw_client.list_task_tags({"name": "gold"}).index[0])
    final = rw_client.list_tasks({"id__in": ",".join(map(str, tagged.index))})
    assert all(t == [gold] for t in final["tags"])
    assert len(replaced) >= 1


def test_tag_on_assignments_uses_the_assignment_endpoint(rw, rw_client: Client) -> None:
    assignments = rw_client.list_assignments({"project": 1}).head(4)
    rw.requests.clear()
    assignments.synapse.tag("gold")
    assert paths(rw, "POST") == ["/assignments/set_tags/"]
    gold = int(rw_client.list_task_tags({"name": "gold"}).index[0])
    fresh = rw_client.list_assignments({"id__in": ",".join(map(str, assignments.index))})
    assert all(gold in t for t in fresh["tags"])


def test_bad_tags_fail_before_anything_is_sent(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}).head(3)
    rw.requests.clear()
    with pytest.raises(InvalidInputError, match="no task tag has this name"):
        tasks.synapse.tag("no-such-tag")
    with pytest.raises(InvalidInputError, match="tags"):
        tasks.synapse.tag([1.5])
    with pytest.raises(InvalidInputError, match="at least one tag"):
        tasks.synapse.untag([])
    with pytest.raises(InvalidInputError, match="works on task, assignment"):
        rw_client.list_models().synapse.tag("gold")
    assert paths(rw, "POST") == []


def test_refresh_of_a_whole_listing_fetches_only_changes(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    tasks = tasks.synapse.split(seed=1)  # an added column survives a refresh
    changed_ids = tasks.index[:3].tolist()
    for pk in changed_ids:
        rw_client.update_task(pk, {"priority": "high", "status": "completed"})
    rw_client.raw.annotate_task_data(changed_ids[0], {"images": []})
    rw.requests.clear()
    fresh = tasks.synapse.refresh()
    listed = [r for r in list(rw.requests) if r["path"] == "/sdk/tasks/"]
    assert any("modified__gt=" in r["query"] for r in listed)
    assert not any("id__in" in r["query"] for r in listed)
    assert fresh.attrs["synapse"]["refresh"]["changed"] >= 3
    assert (fresh.loc[changed_ids, "priority"] == "high").all()
    assert fresh.at[changed_ids[0], "n_annotations"] == 0
    assert fresh["split"].equals(tasks["split"])
    full = rw_client.list_tasks({"project": 1}, list_all=True)
    pd.testing.assert_frame_equal(fresh.drop(columns="split"), full, check_like=False)


def test_refresh_of_some_rows_rereads_them_by_id(rw, rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    subset = tasks.iloc[[5, 1, 9]]
    rw_client.update_task(int(subset.index[0]), {"status": "in_progress"})
    rw.requests.clear()
    fresh = subset.synapse.refresh()
    assert fresh.index.tolist() == subset.index.tolist()
    assert fresh.iloc[0]["status"] == "in_progress"
    assert any("id__in" in r["query"] for r in list(rw.requests))


def test_refresh_discards_unpushed_edits(rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    original = tasks["priority"].copy()
    tasks.loc[tasks.index[:4], "priority"] = "low"
    assert not tasks.synapse.diff().empty
    fresh = tasks.synapse.refresh()
    assert fresh["priority"].equals(original)
    assert fresh.synapse.diff().empty


def test_refresh_discards_unpushed_tag_edits_of_every_kind(rw_client: Client) -> None:
    tasks = rw_client.list_tasks({"project": 1}, list_all=True)
    server_tags = tasks["tags"].map(sorted).tolist()
    tagged = [pk for pk, tags in tasks["tags"].items() if len(tags) >= 1][:2]
    untagged = [pk for pk, tags in tasks["tags"].items() if not tags][:1]
    tasks.at[tagged[0], "tags"] = []  # replaced
    tasks.at[tagged[1], "tags"].append(999)  # mutated in place
    tasks.at[untagged[0], "tags"] = [1, 1]  # a duplicate, not a real change of one tag
    reordered = [pk for pk, tags in tasks["tags"].items() if len(tags) >= 2][:1]
    for pk in reordered:  # same tags, other order: not an edit
        tasks.at[pk, "tags"] = list(reversed(tasks.at[pk, "tags"]))
    edited = tasks.synapse.diff()
    assert set(edited["id"]) == {*tagged, *untagged}
    fresh = tasks.synapse.refresh()
    assert fresh["tags"].map(sorted).tolist() == server_tags
    assert fresh.synapse.diff().empty


def test_annotations_view_matches_the_per_row_counts(client: Client) -> None:
    tasks = client.list_tasks({"project": 1}, list_all=True)
    ann = tasks.synapse.annotations()
    per_task = ann.groupby("task_id").size()
    expected = tasks["n_annotations"][tasks["n_annotations"] > 0]
    assert per_task.sort_index().tolist() == expected.sort_index().tolist()
    with_data = client.list_tasks({"project": 1}, list_all=True, include_data=True)
    pd.testing.assert_frame_equal(with_data.synapse.annotations(), ann)
    boxes = ann[ann["tool"] == "bounding_box"]
    assert (boxes["area"] == boxes["w"] * boxes["h"]).all()
    masks = ann[ann["tool"] == "segmentation"]
    assert masks["w"].notna().all()  # v2 masks get a box from the frame's image width
    counts = tasks.synapse.class_counts()
    for label, n_items in counts["n_items"].items():
        assert n_items == sum(label in c for c in tasks["classes"])


def test_annotations_of_v1_data_stored_on_the_server(rw_client: Client) -> None:
    v1 = {
        "extra": {"image_1": {"width": 64, "height": 48}},
        "annotations": {
            "image_1": [{"id": "b1", "tool": "bounding_box", "classification": {"class": "car"}}]
        },
        "annotationsData": {
            "image_1": [{"id": "b1", "coordinate": {"x": 2, "y": 3, "width": 10, "height": 5}}]
        },
    }
    task = rw_client.list_tasks({"project": 1}).index[0]
    rw_client.annotate_task_data(int(task), v1)
    frame = rw_client.list_tasks({"id": int(task)})
    assert frame.at[task, "dm_version"] == "v1"
    assert frame.at[task, "classes"] == ["car"]
    ann = frame.synapse.annotations()
    assert ann[["tool", "class_name", "x", "y", "w", "h", "area"]].iloc[0].tolist() == [
        "bounding_box",
        "car",
        2.0,
        3.0,
        10.0,
        5.0,
        50.0,
    ]


def test_summary_counts_agree_with_the_frame(client: Client) -> None:
    tasks = client.list_tasks({"project": 1}, list_all=True)
    summary = tasks.synapse.summary()
    assert summary["status"].to_dict() == tasks["status"].value_counts().to_dict()
    assert summary["class"].sum() == tasks["classes"].map(len).sum()
    assert summary["assignee"].sum() == len(tasks)
    assert summary["tag"].sum() == tasks["tags"].map(len).sum()
    long = summary.to_frame()
    assert set(long["facet"]) == {"status", "priority", "class", "assignee", "tag"}
    assert "240 tasks" in repr(summary) or f"{len(tasks)} tasks" in repr(summary)


def test_preview_uses_the_registered_widget(client: Client, monkeypatch) -> None:
    opened = []
    monkeypatch.setattr(accessor_module, "_PREVIEWERS", [])
    register_previewer(lambda frame, client=None, **kw: opened.append((len(frame), client, kw)))
    tasks = client.list_tasks({"project": 1}).head(4)
    tasks.synapse.preview(columns=2)
    assert opened == [(4, client, {"columns": 2})]


def test_preview_without_a_widget_says_so(client: Client, monkeypatch) -> None:
    monkeypatch.setattr(accessor_module, "_PREVIEWERS", [])
    monkeypatch.setattr(accessor_module.importlib, "import_module", lambda name: None)
    with pytest.raises(RuntimeError, match="preview widget"):
        client.list_tasks({"project": 1}).synapse.preview()
