"""``recent_boots`` as the writer sends it (store/presence.py ``boots_json``): the JSON
``[[boot_id, seq], …]`` the column always held, from cached pieces."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from store.presence import boots_json

BOOTS = st.lists(
    st.tuples(st.text(max_size=20), st.integers(min_value=0, max_value=2**63 - 1)), max_size=8
)


@given(BOOTS)
def test_the_window_encodes_as_json_would(boots: list[tuple[str, int]]) -> None:
    window = tuple(boots)
    assert json.loads(boots_json(window)) == [list(b) for b in window]


def test_a_new_seq_of_the_current_boot_reuses_the_earlier_boots() -> None:
    earlier = (("boot-a", 7), ('boot "b"', 3))
    assert boots_json((*earlier, ("boot-c", 1))) == '[["boot-a",7],["boot \\"b\\"",3],["boot-c",1]]'
    assert json.loads(boots_json((*earlier, ("boot-c", 2))))[-1] == ["boot-c", 2]
    assert boots_json(()) == "[]"
