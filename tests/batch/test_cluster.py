"""Batch runs on a Dask cluster of 2 local processes (skipped when Dask is not installed)."""

from __future__ import annotations

import csv
import os
import signal

import pytest

pytest.importorskip("distributed")

from distributed import Client, LocalCluster

from crystalview.batch.cluster import classify_on_cluster
from crystalview.batch.stream import ResultSink
from crystalview.batch.worker import ModelReference, process_id
from crystalview.cli import main
from crystalview.inference.predict import InferenceSettings
from crystalview.io import find_images

PROBABILITY_TOLERANCE = 2e-2  # bf16 on one side, fp32 on the other


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        host="127.0.0.1", silence_logs=40,
    ) as local:  # fmt: skip
        yield local


def read_by_path(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["path"]: row for row in csv.DictReader(handle)}


def test_two_workers_give_the_rows_of_the_serial_run(cluster, image_folder, tiny_model, tmp_path):
    base = ["classify", str(image_folder), "--model", str(tiny_model), "--device", "cpu"]
    main([*base, "--out", str(tmp_path / "serial.csv")])
    status = main(
        [*base, "--out", str(tmp_path / "dask.csv"), "--scheduler", cluster.scheduler_address,
         "--files-per-batch", "3"]
    )  # fmt: skip
    assert status == 1  # the broken file, as in the serial run
    serial, dask = read_by_path(tmp_path / "serial.csv"), read_by_path(tmp_path / "dask.csv")
    assert set(dask) == set(serial) and len(dask) == 17
    for path, row in serial.items():
        other = dask[path]
        assert (other["label"], other["status"], other["error"] != "") == (
            row["label"], row["status"], row["error"] != ""
        )  # fmt: skip
        for column in (c for c in row if c.startswith("p_") and row[c]):
            assert float(other[column]) == pytest.approx(
                float(row[column]), abs=PROBABILITY_TOLERANCE
            )


def test_a_worker_killed_mid_run_still_yields_every_row_once(
    cluster, image_folder, tiny_model, tmp_path
):
    files = find_images([image_folder]).files
    settings = InferenceSettings(device="cpu", probability_map=False)
    reference = ModelReference.of(str(tiny_model))
    killed = False
    with (
        Client(cluster) as client,
        ResultSink(tmp_path / "k.csv", ["amorphous", "crystalline", "mixed"]) as sink,
    ):
        batches = classify_on_cluster(client, reference, files, settings, 1, 1, "tiny")
        for records in batches:
            sink.add(records)
            if not killed:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    pid = client.run(process_id, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed = True
    assert killed, "no batch was in flight to kill a worker under"
    with open(tmp_path / "k.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in files)
    errors = {os.path.basename(r["path"]) for r in rows if r["error"]}
    assert errors == {"broken.tif"}  # the killed worker's batch was retried, not lost


def _maps(folder):
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*_cam.*"))}


def test_workers_write_the_heat_maps_of_the_serial_run(cluster, image_folder, tiny_model, tmp_path):
    import numpy as np
    import tifffile

    base = ["classify", str(image_folder), "--model", str(tiny_model), "--device", "cpu", "--fp32"]
    serial_maps, dask_maps = tmp_path / "serial-maps", tmp_path / "dask-maps"
    main([*base, "--out", str(tmp_path / "s.csv"), "--cam-dir", str(serial_maps)])
    status = main(
        [*base, "--out", str(tmp_path / "d.csv"), "--cam-dir", str(dask_maps),
         "--scheduler", cluster.scheduler_address, "--files-per-batch", "3"]
    )  # fmt: skip
    assert status == 1  # only the broken file
    serial, dask = _maps(serial_maps), _maps(dask_maps)
    # one TIF and one PNG per answered image, in the mirrored sub-folders a/ and b/
    assert len(serial) == 2 * 16 and set(dask) == set(serial)
    assert {name.split("/")[0] for name in dask} == {"a", "b"}
    for name in (n for n in serial if n.endswith(".tif")):
        np.testing.assert_allclose(
            tifffile.imread(dask[name]), tifffile.imread(serial[name]), atol=1e-4
        )
    rows = read_by_path(tmp_path / "d.csv")
    assert {os.path.basename(p) for p, r in rows.items() if r["error"]} == {"broken.tif"}


def test_a_heat_map_that_cannot_be_written_is_an_error_row(
    cluster, image_folder, tiny_model, tmp_path
):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the map folder should be")
    status = main(
        ["classify", str(image_folder / "a"), "--model", str(tiny_model), "--device", "cpu",
         "--out", str(tmp_path / "r.csv"), "--cam-dir", str(blocked),
         "--scheduler", cluster.scheduler_address]
    )  # fmt: skip
    assert status == 1
    rows = read_by_path(tmp_path / "r.csv")
    assert len(rows) == 8
    assert all(r["error"].startswith("class-activation map failed") for r in rows.values())
