"""Tests of eda_lib.report.session: showing figures and warnings in a notebook."""

import matplotlib

matplotlib.use("Agg")

import pytest
from matplotlib.figure import Figure

from eda_lib.config import make_config
from eda_lib.report import session


def figure(value: float) -> Figure:
    fig = Figure(figsize=(1, 1))
    fig.subplots().plot([0, 1], [0, value])
    return fig


@pytest.fixture
def shown(tmp_path, monkeypatch):
    """A session of section "07" whose displays are recorded (file names) instead of shown."""
    displayed = []

    def display(image, metadata=None):
        assert metadata == {session.FIGURE_KEY: {"file": f"{image.filename.split('/')[-1]}"}}
        displayed.append(image)

    monkeypatch.setattr(session, "display", display)
    cfg = make_config({"data_dir": str(tmp_path / "data"), "out_dir": str(tmp_path / "out")})
    return session.Session(cfg=cfg, tables=None, section="07"), displayed


def test_show_saves_and_displays_the_saved_png(shown):
    s, displayed = shown
    s.show(figure(1), "one")
    path = s.figures_dir / "07_one.png"
    assert path.is_file() and displayed[0].data == path.read_bytes()


def test_show_all_in_order(shown, capsys):
    s, displayed = shown
    s.show_all({"b": figure(1), "a": figure(2)}, empty="never printed")
    assert sorted(p.name for p in s.figures_dir.iterdir()) == ["07_a.png", "07_b.png"]
    assert [d.data for d in displayed] == [(s.figures_dir / f"07_{n}.png").read_bytes()
                                           for n in ("b", "a")]
    assert capsys.readouterr().out == ""


def test_show_all_prints_the_empty_message_only_when_empty(shown, capsys):
    s, displayed = shown
    s.show_all({}, empty="No twin pair.")
    s.show_all({})
    assert capsys.readouterr().out == "No twin pair.\n" and displayed == []


def test_show_groups_prints_each_caption_before_its_figures(shown, monkeypatch):
    s, _ = shown
    events = []
    monkeypatch.setattr(session, "display",
                        lambda image, metadata=None: events.append(("figure", image.filename)))
    monkeypatch.setattr("builtins.print", lambda text: events.append(("print", text)))
    s.show_groups({"first: 2": {"f_0": figure(1), "f_1": figure(2)}, "empty: 0": {},
                   "last: 1": {"l_0": figure(3)}})
    names = [(kind, str(value).rsplit("/", 1)[-1]) for kind, value in events]
    assert names == [("print", "first: 2"), ("figure", "07_f_0.png"), ("figure", "07_f_1.png"),
                     ("print", "empty: 0"), ("print", "last: 1"), ("figure", "07_l_0.png")]


def test_run_warnings_only_for_unpickling(tmp_path):
    values = {"data_dir": str(tmp_path), "out_dir": str(tmp_path / "out")}
    assert session.run_warnings(make_config(values)) == []
    assert session.run_warnings(make_config({**values, "allow_pickle": True})) == [
        session.PICKLE_WARNING]


def test_print_warnings(tmp_path, capsys):
    values = {"data_dir": str(tmp_path), "out_dir": str(tmp_path / "out")}
    unsafe = make_config({**values, "allow_pickle": True})
    session.Session(cfg=unsafe, tables=None, section="01").print_warnings()
    assert capsys.readouterr().out == session.PICKLE_WARNING + "\n"
    session.Session(cfg=make_config(values), tables=None, section="01").print_warnings()
    assert capsys.readouterr().out == ""


def test_a_table_shows_each_cell_whole(tmp_path, monkeypatch):
    """A problem's detail names its fix at its end: the table a notebook shows (and so its
    page) holds the whole text, not the first 50 characters."""
    import pandas as pd
    from hostile import make_flat_folder
    from PIL import Image

    from eda_lib.report.records import RUNNER_ENV

    monkeypatch.delenv(RUNNER_ENV, raising=False)
    data = tmp_path / "figs"
    make_flat_folder(data)
    turned = Image.Exif()
    turned[0x0112] = 6
    Image.new("RGB", (40, 30), "gray").save(data / "phone.jpg", exif=turned)
    namespace = {"data_dir": str(data), "out_dir": str(tmp_path / "out"), "workers": 1,
                 "progress": False}
    with pd.option_context("display.max_colwidth", 50):  # restored after the test
        problems = session.start(namespace, "01").tables.problems
        (detail,) = problems["detail"]
        assert len(detail) > 50 and detail.endswith("not as a viewer shows it")
        assert detail in problems._repr_html_()


def test_an_empty_table_is_a_sentence_not_a_header(shown, monkeypatch, capsys):
    import pandas as pd

    s, _ = shown
    tables = []
    monkeypatch.setattr(session, "display", lambda df, **kw: tables.append(df))
    s.table(pd.DataFrame({"kind": []}), empty="None: every file was used as it is.")
    s.table(pd.DataFrame({"kind": ["x"]}), empty="never printed")
    assert capsys.readouterr().out == "None: every file was used as it is.\n"
    assert [len(t) for t in tables] == [1]
