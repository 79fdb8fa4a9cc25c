"""`dlp scan --cluster`: the same scan on a dask.distributed cluster.

A thin adapter, like the other front ends: it ships the compiled registry to the
workers (`shipment`), cuts the file list into tasks of similar size (`batches`)
and runs them (`runner`, the only module that imports Dask). The core never
imports this package; Dask is the optional extra ``dlp[cluster]``.
"""
