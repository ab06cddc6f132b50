"""compiler.per_object: a value built once per object, remembered by identity (the plan's project section
and digest, the prometheus target's settings dump)."""

from __future__ import annotations

from compiler.per_object import per_object


def test_built_once_per_object_and_again_for_an_equal_one() -> None:
    built: list[dict[str, int]] = []

    @per_object
    def size(obj: dict[str, int]) -> int:
        built.append(obj)
        return len(obj)

    first, equal = {"a": 1}, {"a": 1}
    assert [size(first), size(first), size(equal)] == [1, 1, 1]
    assert built == [first, equal]
    assert built[0] is first
    assert built[1] is equal


def test_an_object_is_kept_alive_so_its_id_is_not_reused() -> None:
    @per_object
    def ident(obj: object) -> int:
        return id(obj)

    answers = {ident(object()) for _ in range(100)}
    assert len(answers) == 100  # each throwaway object stays alive: no id is given out twice
