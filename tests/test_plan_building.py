"""Building the plan quickly gives the plan the plain construction gives: the plan types' quicker `__init__`
and `replace` (compiler.planning.quick_init) build the same objects as the dataclass's own, and the step
order's fast path (training.topological) is the order Kahn's algorithm takes."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.language.project import Project
from compiler.language.spec import Spec, Step
from compiler.language.yamlsource import load_document
from compiler.planning import metric_direction
from compiler.planning import plan as plan_module
from compiler.planning.quick_init import quick_init, replace
from compiler.planning.training import kahn_order, pipeline_plan, topological
from golden import SPECS

PLAN_TYPES = sorted(
    (value for value in vars(plan_module).values()
     if isinstance(value, type) and dataclasses.is_dataclass(value)
     and value.__module__.startswith("compiler.planning.")),
    key=lambda cls: cls.__qualname__)


def _plain(cls: type) -> type:
    """The same fields as a plain frozen, slotted dataclass: its generated __init__ is the reference."""
    fields = [(f.name, f.type, dataclasses.field(default=f.default)) if f.default is not dataclasses.MISSING
              else (f.name, f.type) for f in dataclasses.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


def _values(cls: type, salt: int) -> dict[str, Any]:
    return {f.name: (f.name, salt) for f in dataclasses.fields(cls)}


def _fields_of(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def test_every_plan_type_is_built_by_the_quick_init() -> None:
    assert len(PLAN_TYPES) > 25
    for cls in PLAN_TYPES:
        setters = {f"_set_{f.name}" for f in dataclasses.fields(cls)}
        assert set(cls.__init__.__code__.co_names) == setters, cls  # no object.__setattr__ per field


@pytest.mark.parametrize("cls", PLAN_TYPES, ids=lambda cls: cls.__qualname__)
def test_a_plan_type_is_built_as_its_plain_dataclass_builds_it(cls: type) -> None:
    plain = _plain(cls)
    fields = dataclasses.fields(cls)
    values = _values(cls, 1)
    required = {f.name: values[f.name] for f in fields if f.default is dataclasses.MISSING}
    # By keyword, positionally, and with the defaults left out: every field as the reference sets it.
    assert _fields_of(cls(**values)) == _fields_of(plain(**values))
    assert _fields_of(cls(*values.values())) == _fields_of(plain(*values.values()))
    assert _fields_of(cls(**required)) == _fields_of(plain(**required))
    built = cls(**values)
    assert type(built) is cls
    assert built == cls(**values)
    assert hash(built) == hash(cls(**values))
    assert built != cls(**_values(cls, 2))
    # Still frozen, replaceable, picklable; the signature and its errors are the dataclass's.
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.__setattr__(fields[0].name, "x")
    assert dataclasses.replace(built, **{fields[0].name: "y"}) == cls(**{**values, fields[0].name: "y"})
    assert pickle.loads(pickle.dumps(built)) == built
    assert repr(built).replace(cls.__qualname__, "") == repr(plain(**values)).replace(plain.__qualname__, "")
    with pytest.raises(TypeError):
        cls(**values, unknown=1)
    with pytest.raises(TypeError):
        cls(*values.values(), 1)
    if required:
        with pytest.raises(TypeError):
            cls()
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"
    assert cls.__init__.__annotations__ == {f.name: f.type for f in fields} | {"return": None}


@pytest.mark.parametrize("cls", PLAN_TYPES, ids=lambda cls: cls.__qualname__)
def test_a_plan_type_is_replaced_as_dataclasses_replaces_it(cls: type) -> None:
    built = cls(**_values(cls, 1))
    other = _values(cls, 2)
    names = list(other)
    for changed in ({}, {names[0]: other[names[0]]}, {names[-1]: other[names[-1]]}, dict(list(other.items())[::2]),
                    other):
        assert _fields_of(replace(built, **changed)) == _fields_of(dataclasses.replace(built, **changed))
        assert type(replace(built, **changed)) is cls
    with pytest.raises(TypeError):
        replace(built, unknown=1)
    with pytest.raises(TypeError):
        dataclasses.replace(built, unknown=1)


def test_replace_leaves_other_dataclasses_to_dataclasses_replace() -> None:
    """A subclass (a plugin's, say) has fields the plan type's quick path does not know."""
    monitor = plan_module.MonitorPlan(**_values(plan_module.MonitorPlan, 1))

    @dataclasses.dataclass(frozen=True, slots=True)
    class Tagged(plan_module.MonitorPlan):  # type: ignore[misc]
        tag: str = "t"

    tagged = Tagged(**_fields_of(monitor), tag="x")
    changed = replace(tagged, severity="warning")
    assert type(changed) is Tagged
    assert changed.tag == "x"
    assert changed == dataclasses.replace(tagged, severity="warning")


def test_quick_init_refuses_what_it_would_build_differently() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        items: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True, slots=True)
    class Later:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        a: int

    @dataclasses.dataclass(slots=True)
    class Mutable:
        a: int

    for cls in (Factory, Later, Unslotted, Mutable):
        with pytest.raises(TypeError):
            quick_init(cls)


NAMES = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@given(st.lists(st.tuples(NAMES, st.lists(NAMES, max_size=3)), min_size=1, max_size=7), st.booleans())
def test_the_step_order_is_kahns_in_spec_order(written: list[tuple[str, list[str]]], in_order: bool) -> None:
    """Any steps (duplicate names, unknown or later dependencies, cycles); `in_order` keeps only the
    dependencies on steps written above, the fast path's case."""
    if in_order:
        written = [(name, [d for d in after if d in {n for n, _ in written[:i]}])
                   for i, (name, after) in enumerate(written)]
    steps = [Step(name=name, after=after) for name, after in written]
    assert [id(s) for s in topological(steps)] == [id(s) for s in kahn_order(steps)]
    assert topological(steps) is not steps


def _plan_under(project: Project) -> plan_module.Plan:
    raw = (SPECS / "fraud-detector.yaml").read_bytes()
    doc, _ = load_document(raw, "fraud-detector.yaml")
    assert doc is not None
    return plan_module.build_plan(Spec.model_validate(doc.data), project, spec_path="specs/fraud-detector.yaml",
                                  source_sha256="", spec_data=doc.data, digests=False)


def test_the_project_section_is_each_projects_own() -> None:
    """Built once per project and shared by its plans: a plan under another project never gets the first's."""
    first = Project.model_validate({"registry": "first.example.com", "targets": {"kserve": {"mode": "Standard"}},
                                    "teams": {"risk-ml": {"namespaces": ["risk"]}}})
    second = Project.model_validate({"registry": "second.example.com"})
    assert _plan_under(first).project is _plan_under(first).project
    shown = _plan_under(second).project
    assert shown.registry == "second.example.com"
    assert shown.teams == ()
    assert dict(shown.target_settings) == {}
    again = _plan_under(first).project
    assert again.registry == "first.example.com"
    assert [t.name for t in again.teams] == ["risk-ml"]
    assert dict(again.target_settings) == {"kserve": {"mode": "Standard"}}


@given(st.text(alphabet="abcdeilmnoprstuy_AL", max_size=20))
def test_a_remembered_metric_answer_is_the_one_computed_again(metric: str) -> None:
    assert metric_direction.known_direction(metric) == metric_direction.known_direction.__wrapped__(metric)
    assert metric_direction.gate_kind(metric) == metric_direction._kind_of.__wrapped__(metric)
    assert metric_direction.gate_kind(metric, "cost") == "cost"


def test_a_steps_spec_index_is_its_first_position() -> None:
    """As the search it replaced answered, even for one Step object listed twice (a spec built in Python)."""
    doc, _ = load_document((SPECS / "fraud-detector.yaml").read_bytes(), "fraud-detector.yaml")
    assert doc is not None
    spec = Spec.model_validate(doc.data)
    step = spec.pipeline.steps[0]
    twice = spec.model_copy(update={"pipeline": spec.pipeline.model_copy(update={"steps": [step, step]})})
    assert [s.spec_index for s in pipeline_plan(twice, Project()).steps] == [0, 0]
    assert [s.spec_index for s in pipeline_plan(spec, Project()).steps] == list(range(len(spec.pipeline.steps)))
