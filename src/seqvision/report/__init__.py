"""Turns a multirun folder into a paper table: mean +- std over seeds for each ablation cell.

Reads only what the trials wrote (``results.json``, ``csv/metrics.csv``) and the sweeper's
``sweep.json``: no network, no W&B. ``python -m seqvision.report <multirun folder>``.
"""
