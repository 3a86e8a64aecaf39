"""Multirun support: trial identity and resume, failure-tolerant sweepers, DDP trials, resources.

Hydra's launchers (basic, Ray, submitit) and sweepers (basic, Optuna) do the scheduling; this
package only adds what they lack for ablations: a record of every trial, resume, and DDP.
"""
