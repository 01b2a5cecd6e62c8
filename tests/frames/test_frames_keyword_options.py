"""Methods that pass ``**options`` on refuse a misspelled option by name, before any work.

They used to raise ``TypeError: <inner function>() got an unexpected keyword argument``,
naming a function the caller never called (``frame_health``, ``export``).
"""

from __future__ import annotations

import pytest

from synapse_nb.exceptions import InvalidInputError


@pytest.fixture(scope="module")
def tasks(client):
    return client.list_tasks({"project": 1, "page_size": 5})


@pytest.mark.parametrize(
    ("call", "name", "known"),
    [
        (lambda f, c, p: f.synapse.health(thresholdz=1), "thresholdz", "image_thresholds"),
        (lambda f, c, p: f.synapse.export("coco", p, save_originals=False), "save_originals",
         "save_original_file"),
        (lambda f, c, p: c.import_folder(p, colection=1), "colection", "collection"),
    ],
    ids=["health", "export", "import_folder"],
)  # fmt: skip
def test_a_misspelled_option_is_named_with_the_options_taken(
    tasks, client, tmp_path, call, name, known
):
    before = len(list(tmp_path.iterdir()))
    with pytest.raises(InvalidInputError) as info:
        call(tasks, client, tmp_path)
    assert info.value.field == name
    assert "is not an option of" in str(info.value) and known in str(info.value)
    assert len(list(tmp_path.iterdir())) == before  # nothing written


def test_real_options_still_pass(tasks, tmp_path):
    report = tasks.synapse.export("dm", tmp_path, save_original_file=False, progress=False)
    assert report.exported == len(tasks)
