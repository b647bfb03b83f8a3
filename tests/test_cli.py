"""Tests of eda_lib.cli: exit codes, messages, and what each command prints."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from eda_lib import cli, config
from eda_lib.dataset import demo
from eda_lib.errors import LayoutError
from eda_lib.report import runner

FIXTURES = Path(__file__).parent / "notebooks"


@pytest.fixture
def no_data_pass(monkeypatch):
    """Replace the data pass, the layout check and the fingerprint: these tests are about
    the command line."""
    monkeypatch.setattr(runner, "check_layout", lambda data_dir: None)
    monkeypatch.setattr(runner, "ensure_tables", lambda cfg, progress, use_cache=True: None)
    monkeypatch.setattr(runner, "fingerprint", lambda data_dir: {"files": 0})
    monkeypatch.setattr(runner, "load_tables", lambda cfg, build: None)


@pytest.fixture
def params_file(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(
        f"data_dir: {tmp_path / 'data'}\nout_dir: {tmp_path / 'out'}\nprogress: false\n",
        encoding="utf-8",
    )
    return path


def run(*args: str | Path) -> int:
    return cli.main([str(a) for a in args])


def assert_usage_error(capsys, *fragments: str) -> None:
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


# --------------------------------------------------------------------------- run


def test_run_exits_1_when_a_notebook_fails(params_file, no_data_pass, capsys):
    assert run("run", "-f", params_file, "--notebooks", FIXTURES) == cli.EXIT_FAILED
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("failed  01_broken")
    assert "ValueError: deliberate failure" in lines[0]
    assert lines[1].startswith("ok      02_ok")
    index_html = Path(lines[-1])
    assert index_html == params_file.parent / "out" / "index.html"
    assert index_html.is_file()
    assert (index_html.parent / "html" / "01_broken.html").is_file()


def test_run_exits_0_when_every_notebook_ran(params_file, no_data_pass, capsys):
    code = run("run", "-f", params_file, "--notebooks", FIXTURES, "--only", "ok",
               "-p", "seed", "7")
    assert code == cli.EXIT_OK
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("ok      02_ok")


def test_unknown_parameter_key_is_a_usage_error(params_file, no_data_pass, capsys):
    assert run("run", "-f", params_file, "-p", "sed", "7") == cli.EXIT_USAGE
    assert_usage_error(capsys, "unknown parameter 'sed'", "did you mean 'seed'")


def test_mistyped_parameter_value_is_a_usage_error(params_file, no_data_pass, capsys):
    assert run("run", "-f", params_file, "-p", "seed", "many") == cli.EXIT_USAGE
    assert_usage_error(capsys, "'seed' must be an integer")


def test_unknown_only_name_is_a_usage_error(params_file, no_data_pass, capsys):
    code = run("run", "-f", params_file, "--notebooks", FIXTURES, "--only", "nope")
    assert code == cli.EXIT_USAGE
    assert_usage_error(capsys, "'nope'", "01_broken, 02_ok")


def test_data_layout_error_is_a_usage_error(params_file, no_data_pass, monkeypatch, capsys):
    def ensure_tables(cfg, progress, use_cache=True):
        raise LayoutError(f"{cfg.data_dir} has no train_images folder", path=cfg.data_dir)

    monkeypatch.setattr(runner, "ensure_tables", ensure_tables)
    assert run("run", "-f", params_file, "--notebooks", FIXTURES) == cli.EXIT_USAGE
    assert_usage_error(capsys, "has no train_images folder")


def test_missing_data_folder_is_a_usage_error(params_file, capsys):
    # The real data pass, on a data_dir that does not exist.
    assert run("run", "-f", params_file, "--notebooks", FIXTURES) == cli.EXIT_USAGE
    assert_usage_error(capsys, str(params_file.parent / "data"))


def test_missing_params_file_is_a_usage_error(tmp_path, capsys):
    assert run("run", "-f", tmp_path / "nope.yaml") == cli.EXIT_USAGE
    assert_usage_error(capsys, "nope.yaml", "-f")


@pytest.mark.parametrize("argv", [[], ["run"], ["frobnicate"], ["run", "-f"]])
def test_bad_command_line_exits_2(argv, capsys):
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys):
    assert cli.main(["--help"]) == cli.EXIT_OK
    assert "demo-data" in capsys.readouterr().out


# --------------------------------------------------------------------------- demo-data, params


def test_demo_data_passes_options_and_counts_what_it_wrote(tmp_path, monkeypatch, capsys):
    calls = []

    def generate(root, forged, seed, *, size_scale, png_level, progress):
        calls.append((root, forged, seed, size_scale, png_level))
        return {
            "params": {},
            "images": [{"split": "train"}] * 3 + [{"split": "test"}],
            "masks": [{}] * 2,
            "instances": [{}] * 5,
        }

    monkeypatch.setattr(demo, "generate", generate)
    code = run("demo-data", tmp_path / "d", "--forged", "2", "--seed", "3", "--size-scale", "0.1",
               "--png-level", "6")
    assert code == cli.EXIT_OK
    assert calls == [(tmp_path / "d", 2, 3, 0.1, 6)]
    out = capsys.readouterr().out
    assert "4 images (1 test, 3 train)" in out
    assert "2 masks with 5 instances" in out


def test_demo_data_into_a_non_empty_folder_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine", encoding="utf-8")
    assert run("demo-data", tmp_path) == cli.EXIT_USAGE
    assert_usage_error(capsys, str(tmp_path), "not empty")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_demo_data_where_no_folder_can_be_made_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "a_file").write_text("mine", encoding="utf-8")
    assert run("demo-data", tmp_path / "a_file" / "demo") == cli.EXIT_USAGE
    assert_usage_error(capsys, str(tmp_path / "a_file" / "demo"), "place you can write to")


def test_demo_data_refuses_a_png_level_zlib_has_not(tmp_path, capsys):
    assert run("demo-data", tmp_path / "d", "--png-level", "10") == cli.EXIT_USAGE
    assert_usage_error(capsys, "png_level", "0 to 9")
    assert not (tmp_path / "d").exists()


def test_demo_data_defaults_are_the_generator_defaults():
    args = cli.build_parser().parse_args(["demo-data", "d"])
    signature = inspect.signature(demo.generate).parameters
    for name in ("forged", "seed", "size_scale", "png_level"):
        assert getattr(args, name) == signature[name].default


def test_params_prints_every_parameter(capsys):
    assert cli.main(["params"]) == cli.EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["name", "type", "default", "help"]
    assert [line.split()[0] for line in lines[1:]] == [p["name"] for p in config.describe()]
    assert "(required)" in lines[1]


def test_python_m_eda_lib_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "eda_lib", "params"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "data_dir" in done.stdout
