"""Headless batch runs of many files: streamed, resumable output, shards, Dask clusters.

Nothing here imports Qt; torch and Dask are imported only by the functions that run a model or
connect to a cluster, so ``crystalview classify --help`` and ``merge-results`` stay light.

- `records`: one flat, picklable `FileRecord` per file and its CSV / JSON forms;
- `stream`: append-only output files whose every append is atomic, de-duplicated by path;
- `resume`: which files an earlier, interrupted run already finished;
- `shard`: the deterministic I-th of N parts of a file list;
- `worker`: classify a batch of files in one process with a model loaded once per process;
- `cluster`: the same batches on a Dask cluster (local processes or an existing scheduler);
- `merge`: join the CSVs of shards into one.
"""
