"""What happens to the command line before Hydra sees it: resume shorthands and a dry compose.

``resume=<run folder>`` is rewritten to ``resume=true hydra.run.dir=<run folder>``, and the
run's own overrides (``<run folder>/.hydra/overrides.yaml``) are replayed in front of the new
ones, so ``python train.py resume=logs/train/runs/<date>/<time>`` continues the same experiment
without retyping it (later overrides win: ``trainer.max_epochs=20`` extends a finished run).

A command that Hydra cannot compose (an unknown key, an option that does not exist, a typo in
the override grammar) would make Hydra print a multi-line message and exit with status 1. For
a single run the config is composed once here first, without importing torch, and such a
mistake becomes one ``error:`` line with the valid values and exit status 2, like every other
bad input. Multiruns and ``--flags`` are left to Hydra, whose sweep grammar this does not model.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from seqvision.errors import ConfigError

_BOOL = {"true", "false", "null", "none", "yes", "no", "0", "1", "on", "off"}
_KEY = re.compile(r"^(\+\+|\+|~)?([\w.\-/@]+)(=(.*))?$", re.S)


def _key(arg: str) -> str | None:
    m = _KEY.match(arg)
    return m.group(2) if m else None


def _value(args: list[str], key: str) -> str | None:
    found = None
    for a in args:
        m = _KEY.match(a)
        if m and m.group(2) == key and m.group(3):
            found = m.group(4)
    return found


def _saved_overrides(run_dir: Path) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    from omegaconf import OmegaConf

    saved = OmegaConf.to_container(OmegaConf.load(path))
    return [o for o in saved if _key(o) not in ("resume", "ckpt_path")]


def rewrite_resume(argv: list[str]) -> list[str]:
    """Expands ``resume=<folder>`` and replays the folder's overrides; other argv is untouched."""
    prog, args = argv[0], list(argv[1:])
    if any(a in ("-m", "--multirun") for a in args):
        return argv
    resume = _value(args, "resume")
    run_dir = None
    if resume is not None and resume.lower() not in _BOOL:
        run_dir = Path(os.path.expanduser(resume))
        if not run_dir.is_dir():
            raise ConfigError(f"resume={resume}: no such run folder; valid: true, false or an existing run folder "
                              f"(logs/<task_name>/runs/<date>/<time>); e.g. resume=logs/train/runs/2024-01-01/12-00-00_000000-1")
        args = [a for a in args if _key(a) != "resume"] + ["resume=true", f"hydra.run.dir={run_dir.resolve()}"]
    elif (resume or "").lower() == "true" or _value(args, "ckpt_path") == "last":
        if not _value(args, "hydra.run.dir"):
            raise ConfigError(f"{'resume=true' if resume else 'ckpt_path=last'} needs the folder of the run to continue, and this command starts a new one; "
                              "valid: resume=<run folder>, or resume=true hydra.run.dir=<run folder>; "
                              "e.g. resume=logs/train/runs/2024-01-01/12-00-00_000000-1")
        run_dir = Path(os.path.expanduser(_value(args, "hydra.run.dir")))
    if run_dir is None:
        return argv
    return [prog, *_merge(_saved_overrides(run_dir), args)]


def _merge(saved: list[str], args: list[str]) -> list[str]:
    """Saved overrides first, then the new ones; a key given again is taken from the new ones
    only (``+key=1`` twice is an error in Hydra), keeping the saved ``+`` when the new one lacks it."""
    given = {_key(a): a for a in args if _key(a)}
    kept, args = [], list(args)
    for o in saved:
        key = _key(o)
        if key not in given:
            kept.append(o)
        elif o.startswith("+") and not given[key].startswith(("+", "~")):
            args[args.index(given[key])] = "+" + given[key].lstrip("+")
    return [*kept, *args]


def _group_options(conf_dir: Path, group: str) -> list[str]:
    folder = conf_dir / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _explain(err: Exception, args: list[str], conf_dir: Path) -> str:
    text = str(err)
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    if m := re.search(r"Could not (?:find|load) '([\w/]+)/([^']+)'", text):
        group, option = m.group(1), m.group(2)
        valid = _group_options(conf_dir, group)
        return (f"{group}={option} is not an option of {group}; valid: {', '.join(valid)}; "
                f"e.g. {group}={valid[0] if valid else '<name>'}")
    if m := re.search(r"Could not override '([^']+)'", text):
        key = m.group(1)
        parent, _, leaf = key.rpartition(".")
        valid = _keys_under(parent, args, conf_dir)
        hint = f"valid keys under {parent or 'the top level'}: {', '.join(valid)}; " if valid else ""
        return f"{key} is not a config key; {hint}e.g. fix the spelling, or +{key}=<value> to add a new key"
    if m := re.search(r"Error parsing override '([^']+)'", text) or re.search(r"at input '([^']+)'", text):
        return (f"cannot parse the override {m.group(1)!r} ({first}); valid: key=value, +key=value, ~key; "
                f"quote values with special characters, e.g. 'tags=[a,b]' or optimizer.lr=0.01")
    if "already at" in text:
        return f"{first}; valid: key=value to change an existing key, +key=value only for a new one; e.g. optimizer.lr=0.01"
    return f"{first}; see python train.py --help"


def _keys_under(parent: str, args: list[str], conf_dir: Path) -> list[str]:
    """The keys a node has once the command's group choices are applied."""
    from hydra import compose, initialize_config_dir
    from omegaconf import DictConfig, OmegaConf

    groups = [a for a in args if "=" in a and "." not in a.split("=", 1)[0] and (conf_dir / a.split("=", 1)[0]).is_dir()]
    try:
        with initialize_config_dir(str(conf_dir), version_base="1.3"):
            cfg = compose("train", overrides=groups)
        node = OmegaConf.select(cfg, parent) if parent else cfg
        return sorted(str(k) for k in node.keys()) if isinstance(node, DictConfig) else []
    except Exception:
        return []


def precheck(argv: list[str], conf_dir: Path) -> None:
    """Composes the config of a single run once; a command Hydra cannot compose raises ConfigError."""
    args = argv[1:]
    if any(a.startswith("-") for a in args):
        return  # multirun, --cfg, --help, ...: Hydra's own handling
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    overrides = [a for a in args if not (_key(a) or "").startswith("hydra.") and (_key(a) or "") != "hydra"]
    try:
        with initialize_config_dir(str(conf_dir), version_base="1.3"):
            compose("train", overrides=overrides)
    except HydraException as err:
        raise ConfigError(_explain(err, overrides, conf_dir)) from err
    finally:
        GlobalHydra.instance().clear()


def prepare(argv: list[str], conf_dir: Path) -> list[str]:
    """The argv Hydra should see; prints ``error: ...`` and exits 2 on a mistake (see entry.py)."""
    try:
        argv = rewrite_resume(argv)
        precheck(argv, conf_dir)
        return argv
    except ConfigError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        from seqvision.secrets import redact_text

        print(f"error: {redact_text(str(err))}", file=sys.stderr)
        sys.exit(err.exit_code)
