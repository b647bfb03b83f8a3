import pytest

from eda_lib.config import PARAMS, Config, load_config, make_config, parse_override
from eda_lib.errors import ConfigError


def test_defaults_and_paths_resolved(tmp_path):
    cfg = make_config({"data_dir": str(tmp_path)})
    assert cfg.data_dir == tmp_path.resolve()
    assert cfg.seed == 42 and cfg.out_dir.is_absolute()


def test_params_and_config_fields_agree():
    import dataclasses

    assert [p.name for p in PARAMS] == [f.name for f in dataclasses.fields(Config)]


@pytest.mark.parametrize(
    "values, key, words",
    [
        ({}, "data_dir", "required"),
        ({"data_dir": "x", "sed": 1}, "sed", "did you mean 'seed'"),
        ({"data_dir": "x", "seed": "7"}, "seed", "integer"),
        ({"data_dir": "x", "seed": True}, "seed", "integer"),
        ({"data_dir": "x", "workers": -1}, "workers", ">= 0"),
        ({"data_dir": "x", "progress": "yes"}, "progress", "true or false"),
        ({"data_dir": ""}, "data_dir", "non-empty"),
        ({"data_dir": "x", "executor": "ray"}, "executor", "one of local, dask"),
        ({"data_dir": "x", "executor": "dask", "dask_scheduler": "host:8786"}, "dask_scheduler",
         "like tcp://host:8786"),
        ({"data_dir": "x", "dask_scheduler": "tcp://host:8786"}, "dask_scheduler",
         "set executor: dask"),
        ({"data_dir": "x", "display_size": 1024}, "display_size", "<= 768"),
    ],
)
def test_bad_values_name_the_key(values, key, words):
    with pytest.raises(ConfigError) as info:
        make_config(values)
    assert info.value.key == key
    assert words in str(info.value)


def test_yaml_and_overrides(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("data_dir: d\nseed: 3\n")
    cfg = load_config(f, {"seed": parse_override("seed", "9"), "out_dir": "o"})
    assert cfg.seed == 9 and cfg.out_dir.name == "o"
    assert parse_override("data_dir", "123") == "123"
    assert parse_override("progress", "false") is False


def test_an_error_in_the_file_names_the_file_and_one_in_an_override_does_not(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("data_dir: d\ndispaly_size: 500\nseed: -1\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: unknown parameter 'dispaly_size'; "
                                          r"did you mean 'display_size'\?") as info:
        load_config(f)
    assert info.value.key == "dispaly_size"
    f.write_text("data_dir: d\nseed: -1\n")
    with pytest.raises(ConfigError, match=r"p\.yaml: .*seed") as info:
        load_config(f)
    with pytest.raises(ConfigError) as info:  # the value at fault came from -p, not the file
        load_config(f, {"seed": 2, "workers": -1})
    assert info.value.key == "workers" and "p.yaml" not in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(f, {"seed": -2})
    assert info.value.key == "seed" and "p.yaml" not in str(info.value)


def test_yaml_not_a_mapping(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(f)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")


def test_replace_revalidates(tmp_path):
    cfg = make_config({"data_dir": str(tmp_path)})
    assert cfg.replace(seed=5).seed == 5
    with pytest.raises(ConfigError):
        cfg.replace(seed=-5)


def test_readme_documents_every_parameter():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for p in PARAMS:
        assert f"| `{p.name}` | {p.type.__name__} |" in readme, p.name
        assert p.help in readme, p.name


def test_the_executor_is_not_part_of_what_makes_results_stale(tmp_path):
    from eda_lib.measure import cache
    from eda_lib.tables import DERIVED_PARAMS, PASS_PARAMS

    local = make_config({"data_dir": str(tmp_path)})
    dask = local.replace(executor="dask", dask_scheduler="tcp://10.0.0.1:8786")
    assert local.executor == "local" and dask.dask_scheduler == "tcp://10.0.0.1:8786"
    assert not {"executor", "dask_scheduler"} & set(PASS_PARAMS + DERIVED_PARAMS)
    assert cache.signature([], local) == cache.signature([], dask)


def test_figures_are_never_asked_larger_than_the_views_they_draw_from():
    from eda_lib.measure.case import VIEW_SIDE

    sizes = {p.name: p.maximum for p in PARAMS if p.name in ("display_size", "grid_size")}
    assert sizes == {"display_size": VIEW_SIDE, "grid_size": VIEW_SIDE}


@pytest.mark.parametrize("path", ["bad\x00name", "\x00"])
def test_unusable_path_is_a_config_error_naming_the_key(path):
    with pytest.raises(ConfigError) as err:
        make_config({"data_dir": path})
    assert err.value.key == "data_dir" and "data_dir" in str(err.value)


def test_symlink_loop_is_a_config_error(tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(ConfigError) as err:
        make_config({"data_dir": str(tmp_path), "out_dir": str(tmp_path / "a" / "report")})
    assert err.value.key == "out_dir"


def test_a_notebook_without_data_dir_is_told_to_set_its_parameters_cell():
    from eda_lib.config import from_namespace

    with pytest.raises(ConfigError) as err:
        from_namespace({"seed": 3})  # the start cell run before the parameters cell
    assert err.value.key == "data_dir" and "parameters cell" in str(err.value)
    assert "-p data_dir" not in str(err.value)
    assert from_namespace({"data_dir": "/data", "seed": 3, "x": 1}).seed == 3
