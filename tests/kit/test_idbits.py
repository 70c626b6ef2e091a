"""Sets of ids as bits agree with Python's sets, whatever blocks they span."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.kit.idbits import BLOCK_BYTES, BLOCK_IDS, IdBits

ids = st.sets(
    st.one_of(
        st.integers(0, 3 * BLOCK_IDS),  # a few neighbouring blocks
        st.integers(40 * BLOCK_IDS, 41 * BLOCK_IDS),  # and one far away
    ),
    max_size=200,
)


@given(ids, ids)
def test_set_algebra_matches_python_sets(a: set[int], b: set[int]) -> None:
    x, y = IdBits.from_ids(a), IdBits.from_ids(b)
    assert x.ids().tolist() == sorted(a)
    assert len(x) == len(a)
    assert (x | y).ids().tolist() == sorted(a | b)
    assert (x & y).ids().tolist() == sorted(a & b)
    assert (x - y).ids().tolist() == sorted(a - b)


@given(ids)
def test_blocks_round_trip_and_empty_blocks_are_not_stored(a: set[int]) -> None:
    stored = IdBits.from_ids(a).blocks()
    assert set(stored) == {i // BLOCK_IDS for i in a}
    assert all(len(data) == BLOCK_BYTES for data in stored.values())
    assert IdBits.from_blocks(stored.items()).ids().tolist() == sorted(a)


def test_ids_arrive_as_the_comma_separated_text_databases_aggregate() -> None:
    assert IdBits.parse("9000,3,70000").ids().tolist() == [3, 9000, 70000]
    assert len(IdBits.parse(None)) == len(IdBits.parse("")) == 0


def test_a_block_of_the_wrong_size_or_a_negative_id_is_refused() -> None:
    with pytest.raises(ValueError, match="block 2 holds 3 bytes"):
        IdBits.from_blocks([(2, b"abc")])
    with pytest.raises(ValueError, match="must not be negative"):
        IdBits.from_ids([-1])


def test_counts_of_an_id_are_summed_before_the_threshold() -> None:
    summed = IdBits.summing_to("5,9,5,12,9,5", "1,2,1,3,1,1", 3)
    assert summed.ids().tolist() == [5, 9, 12]
    assert IdBits.summing_to("5,9", "1,2", 3).ids().tolist() == []
    assert len(IdBits.summing_to(None, None, 1)) == 0
    with pytest.raises(ValueError, match="2 ids but 1 counts"):
        IdBits.summing_to("5,9", "1", 1)
