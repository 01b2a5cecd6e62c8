"""Class colours: stable per name, distinct for a project's classes."""

from __future__ import annotations

import json
import subprocess
import sys

from synapse_nb.server.demo.media import CLASSES
from synapse_nb.widgets._colors import PALETTE, class_color

COLOURS_OF = (
    "import json, sys\n"
    "from synapse_nb.widgets._colors import class_color, register_classes\n"
    "register_classes(sys.argv[1:])\n"
    "print(json.dumps({n: class_color(n) for n in sys.argv[1:]}))"
)


def test_demo_classes_get_distinct_colours():
    """car/stop_sign and dog/bus hash to the same slot; probing keeps them apart."""
    colours = [class_color(name) for name in CLASSES]
    assert len(set(colours)) == len(CLASSES)
    assert all(c in PALETTE for c in colours)
    assert [class_color(name) for name in CLASSES] == colours  # stable on repeat


def test_a_registered_class_list_is_coloured_the_same_in_every_process():
    names = ["truck", *CLASSES, "rider"]
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", COLOURS_OF, *order],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        for order in (names, names[::-1])
    ]
    assert runs[0] == runs[1]
    assert len({tuple(c) for c in runs[0].values()}) == len(names)
