"""A preset takes and gives its fields by flat names, each kept in its group."""

import dataclasses

import pytest

from suite.plan.preset_groups import GROUP_OF, GROUPS, TOP_FIELDS, Preset, TrainingGroup, preset_fields


def test_flat_names_land_in_their_groups_and_read_back():
    preset = Preset(name="p", description="d", lr=1e-3, d_model=8, perf_repeats=2, patience=3)
    assert preset.training.lr == 1e-3 and preset.lr == 1e-3
    assert preset.model.d_model == 8 and preset.d_model == 8
    assert preset.perf.perf_repeats == 2 and preset.stopping.patience == 3
    assert preset.batch_size == TrainingGroup().batch_size  # untouched fields keep their defaults


def test_a_group_and_a_flat_name_combine_and_replace_goes_through_flat_names():
    preset = Preset(name="p", description="d", training=TrainingGroup(lr=5e-3, batch_size=7), batch_size=9)
    assert (preset.lr, preset.batch_size) == (5e-3, 9)
    changed = dataclasses.replace(preset, train_steps=11)
    assert changed.train_steps == 11 and changed.batch_size == 9 and preset.train_steps != 11


def test_unknown_fields_are_refused():
    with pytest.raises(TypeError, match="unknown fields: colour"):
        Preset(name="p", description="d", colour="red")
    with pytest.raises(AttributeError, match="no field 'colour'"):
        Preset(name="p", description="d").colour  # noqa: B018


def test_per_task_and_per_family_lookups_fall_back_to_the_preset():
    preset = Preset(
        name="p",
        description="d",
        seq_lens=(32,),
        task_seq_lens={"needle": (64, 128)},
        train_steps=10,
        batch_size=4,
        task_train={"mqar": {"train_steps": 20, "batch_size": 8}},
        lr=1e-3,
        family_lr={"gru": 1e-2},
    )
    assert preset.lengths_for("needle") == (64, 128) and preset.lengths_for("mqar") == (32,)
    assert preset.steps_for("mqar") == 20 and preset.steps_for("needle") == 10
    assert preset.batch_for("mqar") == 8 and preset.batch_for("needle") == 4
    assert preset.lr_for("gru") == 1e-2 and preset.lr_for("mingru") == 1e-3


def test_as_dict_holds_every_field_by_flat_name_as_a_copy():
    options = {"gru": {"bias": True}}
    preset = Preset(name="p", description="d", family_options=options)
    values = preset.as_dict()
    assert set(values) == set(preset_fields()) == set(TOP_FIELDS) | set(GROUP_OF)
    assert values["family_options"] == options and values["name"] == "p"
    assert all(GROUP_OF[name] in GROUPS for name in GROUP_OF)


def test_a_bad_value_stops_the_preset():
    from suite.plan.preset_checks import PresetValueError

    with pytest.raises(PresetValueError, match="preset p: lr must be a positive"):
        Preset(name="p", description="d", lr=-1.0)
