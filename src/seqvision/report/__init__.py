"""Turns a multirun folder into a paper table: mean +- std and the 95% CI over seeds for each
ablation cell, every cell against a reference arm (difference with its CI, a t-test corrected
across arms, effect size, verdict, seeds needed), what each cell cost, and the figures.

Reads only what the trials wrote (``results.json``, ``csv/metrics.csv``) and the sweeper's
``sweep.json``: no network, no W&B. ``python -m seqvision.report <multirun folder>``.
"""
