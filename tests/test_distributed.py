"""train-many and evaluate on a two-worker Dask LocalCluster: the same numbers as the serial run.

One cluster serves the whole module (starting one costs seconds); each test's own command
enters it again, which :class:`guneamp_lib.jobs.Engine` allows.
"""

import csv
import json
import os

import numpy as np
import pytest

from guneamp_lib.cli import main as cli_main
from guneamp_lib.errors import GuneampError
from guneamp_lib.jobs import Engine, Task, one_line_error
from guneamp_lib.study import many
from guneamp_lib.study.evaluate import run_evaluation
from tests.conftest import toy_amp, toy_di, write

pytest.importorskip("distributed")

STEPS = 3
GRID_MODELS = ["seed_cnn@1x", "lstm:8"]


@pytest.fixture(scope="module")
def cluster():
    with Engine(workers=2, progress=False) as engine:
        yield engine


@pytest.fixture
def captures(tmp_path):
    """Two captures of a toy amp (the first with a test pair) and a third whose target is missing."""
    audio = tmp_path / "audio"
    audio.mkdir()
    for i, seconds in enumerate((2.0, 2.5)):
        x = toy_di(seconds, seed=i)
        write(audio / f"di{i}.wav", x)
        write(audio / f"amp{i}.wav", toy_amp(x) * 0.8)
    x = toy_di(1.5, seed=7)
    write(audio / "di_test.wav", x)
    write(audio / "amp_test.wav", toy_amp(x) * 0.8)
    return audio


def write_manifest(folder, audio):
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {"name": "first", "clean": audio / "di0.wav", "target": audio / "amp0.wav", "model": "seed_cnn@2x",
         "out": "m/first", "test_clean": audio / "di_test.wav", "test_target": audio / "amp_test.wav"},
        {"name": "broken", "clean": audio / "di1.wav", "target": audio / "missing.wav", "model": "lstm:8",
         "out": "m/broken"},
        {"name": "second", "clean": audio / "di1.wav", "target": audio / "amp1.wav", "model": "lstm:8",
         "out": "m/second", "seed": "3"},
    ]
    path = folder / "captures.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["name", "clean", "target", "model", "out", "test_clean", "test_target",
                                          "seed"])
        w.writeheader()
        w.writerows(rows)
    return path


NUMBERS = ("validation_esr", "test_esr", "steps", "status", "error", "model")


def numbers(results):
    return [{k: r[k] for k in NUMBERS} for r in results]


@pytest.mark.slow
def test_train_many_on_two_workers_equals_serial_and_records_the_broken_row(tmp_path, captures, cluster):
    serial = many.train_many(write_manifest(tmp_path / "serial", captures), steps=STEPS,
                             engine=Engine(progress=False), device="cpu")
    spread_manifest = write_manifest(tmp_path / "spread", captures)
    spread = many.train_many(spread_manifest, steps=STEPS, engine=cluster, device="cpu")
    assert [r["status"] for r in serial] == ["trained", "failed", "trained"]
    assert numbers(spread) == numbers(serial)
    assert "missing.wav" in serial[1]["error"] and "\n" not in serial[1]["error"]
    assert serial[0]["test_esr"] is not None and serial[2]["test_esr"] is None
    assert serial[0]["steps"] == serial[2]["steps"] == STEPS
    # the rows really differ (their own data and seeds), so equality above is not trivial
    assert serial[0]["validation_esr"] != serial[2]["validation_esr"]
    files = many.summary_paths(spread_manifest)
    table = list(csv.DictReader(open(files["csv"])))
    assert [r["status"] for r in table] == ["trained", "failed", "trained"]
    assert "missing.wav" in table[1]["error"]
    assert json.loads(files["json"].read_text())[0]["validation_esr"] == spread[0]["validation_esr"]
    assert "missing.wav" in files["md"].read_text()
    assert (tmp_path / "spread" / "m" / "first" / "best.pt").exists()


def test_a_rerun_skips_finished_rows_and_retrains_interrupted_ones(tmp_path, captures):
    manifest = write_manifest(tmp_path / "run", captures)
    first = many.train_many(manifest, steps=STEPS, engine=Engine(progress=False), device="cpu")
    # the second row's training was cut off: best.pt is there, result.json still says "training"
    record = tmp_path / "run" / "m" / "second" / "result.json"
    record.write_text(json.dumps({**json.loads(record.read_text()), "status": "training"}))
    again = many.train_many(manifest, steps=STEPS, engine=Engine(progress=False), device="cpu")
    assert [r["status"] for r in again] == ["skipped", "failed", "trained"]
    assert again[0]["validation_esr"] == first[0]["validation_esr"]
    assert again[2]["validation_esr"] == first[2]["validation_esr"]
    # without a result.json nothing says train-many wrote that best.pt: it is kept
    record.unlink()
    kept = many.train_many(manifest, steps=STEPS, engine=Engine(progress=False), device="cpu")
    assert kept[2]["status"] == "failed" and "did not write" in kept[2]["error"]


@pytest.mark.slow
def test_grid_on_two_workers_equals_serial(tmp_path, cluster):
    kw = dict(datasets=["default"], quick=True, models=GRID_MODELS, device="cpu", progress=False, aliasing=False)
    serial = run_evaluation(out_dir=tmp_path / "serial", engine=Engine(progress=False), **kw)
    spread = run_evaluation(out_dir=tmp_path / "spread", engine=cluster, **kw)

    def cells(results):
        return [(r.name, r.esr, r.extra["validation_esr"], r.extra["steps"]) for r in results["default"]]

    assert len(cells(serial)) == len(GRID_MODELS)
    assert cells(spread) == cells(serial)
    saved = json.loads((tmp_path / "spread" / "evaluation.json").read_text())
    assert [r["esr"] for r in saved["datasets"]["default"]["reports"]] == [c[1] for c in cells(serial)]


def crash_once(marker):
    """Kill this worker the first time; succeed when run again."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return "second try"


def crash_always():
    os._exit(1)


def square(x):
    return x * x


@pytest.mark.slow
def test_a_dead_worker_is_retried_once_then_its_job_is_marked_failed(tmp_path, cluster):
    tasks = [Task("crash once", crash_once, (str(tmp_path / "marker"),)), Task("crash always", crash_always),
             Task("square", square, (7,))]
    outcomes = cluster.run(tasks)
    assert [o.key for o in outcomes] == ["crash once", "crash always", "square"]
    once, always, fine = outcomes
    assert once.ok and once.value == "second try" and once.attempts == 2
    assert not always.ok and always.attempts == 2 and "worker died 2 times" in always.error
    assert fine.ok and fine.value == 49


def test_a_job_that_raises_is_one_line_and_the_others_go_on():
    outcomes = Engine(progress=False).run([Task("bad", int, ("not a number",)), Task("good", square, (3,))])
    assert outcomes[0].error == one_line_error(ValueError("invalid literal for int() with base 10: 'not a number'"))
    assert outcomes[1].value == 9


def test_a_manifest_that_cannot_be_read_stops_before_anything_runs(tmp_path, captures):
    bad = tmp_path / "bad.csv"
    bad.write_text("clean,target,model,out,taget\na.wav,b.wav,lstm,m/a,x\n")
    with pytest.raises(GuneampError, match="unknown column"):
        many.read_manifest(bad)
    twice = tmp_path / "twice.yaml"
    twice.write_text("captures:\n  - {clean: a.wav, target: b.wav, model: lstm, out: m}\n"
                     "  - {clean: c.wav, target: d.wav, model: lstm, out: m}\n")
    with pytest.raises(GuneampError, match="both write to"):
        many.read_manifest(twice)
    rows = many.read_manifest(write_manifest(tmp_path / "ok", captures))
    assert rows[0].out == tmp_path / "ok" / "m" / "first" and rows[2].seed == "3"


@pytest.mark.parametrize("argv", [
    ["train-many", "MANIFEST", "--workers", "0"],
    ["train-many", "MANIFEST", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
    ["train-many", "MANIFEST", "--steps", "0"],
    ["evaluate", "--workers", "2", "--datasets", "default"],  # a time budget on a cluster
])
def test_bad_engine_options_are_one_line_errors(tmp_path, captures, capsys, argv):
    manifest = write_manifest(tmp_path / "m", captures)
    argv = [str(manifest) if a == "MANIFEST" else a for a in argv] + ["--quiet"]
    if argv[0] == "evaluate":
        argv += ["--out", str(tmp_path / "ev")]
    try:
        code = cli_main(argv)
    except SystemExit as exc:  # argparse's own checks (a worker count below 1) exit from parse_args
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "m" / "m").exists()


def test_train_many_cli_writes_the_summary_and_fails_with_a_failed_row(tmp_path, captures, capsys):
    manifest = write_manifest(tmp_path / "m", captures)
    assert cli_main(["train-many", str(manifest), "--steps", "2", "--device", "cpu", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "1 of 3 captures failed" in out
    summary = json.loads((tmp_path / "m" / "captures.summary.json").read_text())
    assert [r["steps"] for r in summary] == [2, None, 2]
    assert np.isfinite(summary[0]["validation_esr"])


@pytest.mark.slow
def test_an_existing_cluster_is_used_by_its_address(cluster):
    address = cluster.client.scheduler.address
    with Engine(scheduler=address, progress=False) as remote:
        assert remote.distributed and remote.describe() == f"the Dask cluster at {address}"
        assert [o.value for o in remote.run([Task(f"x{i}", square, (i,)) for i in range(4)])] == [0, 1, 4, 9]


def test_an_unreachable_scheduler_is_a_one_line_error(monkeypatch):
    import guneamp_lib.jobs as jobs

    monkeypatch.setattr(jobs, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(GuneampError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        with Engine(scheduler="tcp://127.0.0.1:9", progress=False):
            pass
