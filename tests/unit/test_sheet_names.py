"""Excel sheet names: valid, unique, and numbered when a sheet overflows."""

from __future__ import annotations

from extraction.excel_extractor import SheetNames


def test_forbidden_characters_are_replaced_and_names_cut_to_31() -> None:
    names = SheetNames()
    assert names.next("a/b:c*d?[e]\\\\f") == "a_b_c_d__e___f"
    assert len(names.next("x" * 40)) == 31


def test_a_name_used_again_is_numbered_and_noted() -> None:
    names = SheetNames()
    assert [names.next("Data"), names.next("Data"), names.next("data")] == [
        "Data",
        "Data (2)",
        "data (3)",
    ]
    assert names.overflowed == ["Data (2)", "data (3)"]


def test_a_long_name_keeps_room_for_its_number() -> None:
    names = SheetNames()
    names.next("y" * 31)
    assert names.next("y" * 31) == "y" * 27 + " (2)"
