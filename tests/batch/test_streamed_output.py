"""Streamed, resumable output, shards and merging, in one process (no Dask needed)."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crystalview.batch.merge import merge_result_files
from crystalview.batch.shard import parse_shard, take_shard
from crystalview.batch.stream import repair_tail
from crystalview.cli import main
from crystalview.core.errors import CrystalViewError

REPO = Path(__file__).resolve().parents[2]


def classify(folder, model, out, *extra):
    argv = ["classify", str(folder), "--model", str(model), "--out", str(out), "--device", "cpu"]
    return main([*argv, *extra])


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def whole(image_folder, tiny_model, tmp_path_factory):
    """The rows of one serial run over the whole folder."""
    out = tmp_path_factory.mktemp("whole") / "all.csv"
    assert classify(image_folder, tiny_model, out) == 1  # the broken file fails
    return read_rows(out)


def test_every_file_is_one_row_and_a_failure_carries_its_error(whole):
    header, rows = whole[0], whole[1:]
    assert len(rows) == 17 and len({r[0] for r in rows}) == 17
    error = header.index("error")
    failed = [r for r in rows if r[error]]
    assert [Path(r[0]).name for r in failed] == ["broken.tif"]
    assert failed[0][header.index("label")] == ""
    ok = [r for r in rows if not r[error]]
    assert all(r[header.index("label")] in ("amorphous", "crystalline", "mixed") for r in ok)


def test_shards_are_disjoint_and_merged_equal_the_whole(whole, image_folder, tiny_model, tmp_path):
    parts = []
    for index in (1, 2, 3):
        part = tmp_path / f"part{index}.csv"
        classify(image_folder, tiny_model, part, "--shard", f"{index}/3")
        parts.append(part)
    sizes = [len(read_rows(p)) - 1 for p in parts]
    assert sorted(sizes) == [5, 6, 6]  # 17 files in three balanced parts
    out = tmp_path / "merged.csv"
    assert main(["merge-results", *map(str, parts), "--out", str(out)]) == 0
    merged = read_rows(out)
    assert merged[0] == whole[0]
    assert merged[1:] == sorted(whole[1:], key=lambda r: r[0])


def test_take_shard_partitions_and_parse_shard_checks():
    files = [Path(f"f{i:03d}.tif") for i in range(10)][::-1]
    parts = [take_shard(files, i, 4) for i in (1, 2, 3, 4)]
    assert sorted(p for part in parts for p in part) == sorted(files)
    assert parts[0] == [Path("f000.tif"), Path("f004.tif"), Path("f008.tif")]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x", "1/0"):
        with pytest.raises(CrystalViewError):
            parse_shard(bad)


def test_resume_after_a_crash_finishes_the_rest_without_duplicates(
    whole, image_folder, tiny_model, tmp_path, capsys
):
    out = tmp_path / "r.csv"
    header, rows = whole[0], whole[1:]
    good = [r for r in rows if not r[header.index("error")]]
    lines = [",".join(header)] + [
        ",".join(f'"{c}"' if "," in c else c for c in r) for r in good[:5]
    ]
    # a crash in mid-write leaves a torn line at the end
    out.write_text("\n".join(lines) + "\n" + good[5][0] + ",cryst", encoding="utf-8")
    capsys.readouterr()
    classify(image_folder, tiny_model, out, "--resume", "--jsonl", str(tmp_path / "r.jsonl"))
    assert "5 done before" in capsys.readouterr().err
    resumed = read_rows(out)
    assert resumed[0] == header
    assert sorted(resumed[1:]) == sorted(rows)  # every file once, the torn line gone
    jsonl = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(jsonl) == 12  # only what this run classified: 11 files and the broken one


def test_resume_redoes_a_changed_file(whole, image_folder, tiny_model, tmp_path):
    out = tmp_path / "r.csv"
    classify(image_folder, tiny_model, out)
    changed = image_folder / "a" / "img01.tif"
    stat = changed.stat()
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    try:
        classify(image_folder, tiny_model, out, "--resume")
    finally:
        os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    rows = read_rows(out)[1:]
    assert len(rows) == 17 and len({r[0] for r in rows}) == 17
    mtime = whole[0].index("file_mtime_ns")
    row = next(r for r in rows if r[0] == str(changed))
    assert int(row[mtime]) == stat.st_mtime_ns + 10**9


def test_resume_refuses_a_csv_of_other_columns(image_folder, tiny_model, tmp_path, capsys):
    out = tmp_path / "other.csv"
    out.write_text("path,label\nx.tif,a\n", encoding="utf-8")
    assert classify(image_folder, tiny_model, out, "--resume") != 0
    assert "columns" in capsys.readouterr().err
    assert out.read_text() == "path,label\nx.tif,a\n"  # nothing was written


def test_repair_tail_cuts_only_a_torn_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n3,")
    repair_tail(path)
    assert path.read_bytes() == b"a,b\n1,2\n"
    repair_tail(path)
    assert path.read_bytes() == b"a,b\n1,2\n"


def test_merge_refuses_different_columns(tmp_path):
    (tmp_path / "a.csv").write_text("path,label\nx,1\n")
    (tmp_path / "b.csv").write_text("path,other\ny,1\n")
    with pytest.raises(CrystalViewError, match="other columns"):
        merge_result_files([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "m.csv")


def test_resume_after_the_client_is_killed(whole, image_folder, tiny_model, tmp_path):
    """A real ``crystalview classify`` process killed with SIGKILL mid-run, then resumed."""
    out = tmp_path / "killed.csv"
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "crystalview", "classify", str(image_folder)]
    argv += ["--model", str(tiny_model), "--out", str(out), "--device", "cpu"]
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_text().count("\n") >= 4:  # header and 3 rows
            break
        time.sleep(0.02)
    if process.poll() is not None:
        pytest.skip("the run finished before it could be killed (machine too fast)")
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = len(read_rows(out)) - 1
    assert 3 <= before < 17
    classify(image_folder, tiny_model, out, "--resume")
    rows = read_rows(out)[1:]
    assert sorted(rows) == sorted(whole[1:])


def test_workers_without_dask_say_how_to_install(image_folder, tiny_model, tmp_path, capsys):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    builtins.__import__ = no_dask
    try:
        status = classify(image_folder, tiny_model, tmp_path / "w.csv", "--workers", "2")
    finally:
        builtins.__import__ = real_import
    assert status != 0
    assert "pip install 'crystalview[cluster]'" in capsys.readouterr().err
    assert not (tmp_path / "w.csv").exists()  # refused before anything was written
