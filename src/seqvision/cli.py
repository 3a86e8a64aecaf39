"""What happens to the command line before Hydra sees it: resume shorthands, Trainer
arguments, and a dry compose.

``resume=<run folder>`` is rewritten to ``resume=true hydra.run.dir=<run folder>``, and the
run's own overrides (``<run folder>/.hydra/overrides.yaml``) are replayed in front of the new
ones, so ``python train.py resume=logs/train/runs/<date>/<time>`` continues the same experiment
without retyping it (later overrides win: ``trainer.max_epochs=20`` extends a finished run).

A command that Hydra cannot compose (an unknown key, an option that does not exist, a typo in
the override grammar) would make Hydra print a multi-line message and exit with status 1. For
a single run the config is composed once here first, without importing torch, and such a
mistake becomes one ``error:`` line with the valid values and exit status 2, like every other
bad input. Multiruns and ``--flags`` are left to Hydra, whose sweep grammar this does not model.

Every argument of Lightning's ``Trainer`` can be set as ``trainer.<arg>=value``: it is passed to
Hydra as ``++trainer.<arg>=value``, so one that the trainer config does not list
(``trainer.limit_train_batches=5``) is added; config validation then checks the name and the
value against the Trainer's signature.
"""

from __future__ import annotations

import inspect
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


def _saved_overrides(run_dir: Path, drop: tuple[str, ...] = ("resume", "ckpt_path")) -> list[str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return []
    from omegaconf import OmegaConf

    saved = OmegaConf.to_container(OmegaConf.load(path))
    return [o for o in saved if _key(o) not in drop]


def _is_false(value: str | None) -> bool:
    return (value or "").strip().lower() in ("false", "no", "off", "0")


def rewrite_resume(argv: list[str]) -> list[str]:
    """Expands ``resume=<folder>`` and replays the folder's overrides; an evaluation of a run's
    checkpoint (``train=false ckpt_path=<run folder or a file in it>``) replays that run's
    overrides too, so the net and the data are those it was trained on. Other argv is untouched."""
    prog, args = argv[0], list(argv[1:])
    if any(a in ("-m", "--multirun") for a in args):
        return argv
    resume, ckpt = _value(args, "resume"), _value(args, "ckpt_path")
    run_dir = None
    if _is_false(_value(args, "train")):
        if ckpt and ckpt not in ("best", "last", "null"):
            from seqvision.checkpoints import run_folder_of

            run_dir = run_folder_of(Path(os.path.expanduser(ckpt)).resolve())
        if run_dir is None:
            return argv
        return [prog, *_merge(_saved_overrides(run_dir, drop=("resume", "ckpt_path", "train", "test")), args)]
    if resume is not None and resume.lower() not in _BOOL:
        run_dir = Path(os.path.expanduser(resume))
        if not run_dir.is_dir():
            raise ConfigError(f"resume={resume}: no such run folder; valid: true, false or an existing run folder "
                              f"(logs/<task_name>/runs/<date>/<time>); e.g. resume=logs/train/runs/2024-01-01/12-00-00_000000-1")
        args = [a for a in args if _key(a) != "resume"] + ["resume=true", f"hydra.run.dir={run_dir.resolve()}"]
    elif (resume or "").lower() == "true" or ckpt == "last":
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
            prefix = "++" if o.startswith("++") else "+"
            args[args.index(given[key])] = prefix + given[key]
    return [*kept, *args]


def _group_options(conf_dir: Path, group: str) -> list[str]:
    folder = conf_dir / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def _explain(err: Exception, args: list[str], conf_dir: Path) -> str:
    """One line for a command Hydra cannot compose, from the exception's type and attributes
    (Hydra's ``MissingConfigException`` names the option and the valid ones, its
    ``OverrideParseException`` the override, a ``ConfigCompositionException`` caused by
    OmegaConf's key error the key), never from the wording of its message."""
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError

    text = str(err).strip()
    first = text.splitlines()[0] if text else type(err).__name__
    if isinstance(err, MissingConfigException) and err.missing_cfg_file and "/" in err.missing_cfg_file:
        group, option = err.missing_cfg_file.rsplit("/", 1)
        valid = list(err.options or []) or _group_options(conf_dir, group)
        return (f"{group}={option} is not an option of {group}; valid: {', '.join(valid)}; "
                f"e.g. {group}={valid[0] if valid else '<name>'}")
    if isinstance(err, OverrideParseException):
        return (f"cannot parse the override {err.override!r} ({first}); valid: key=value, +key=value, ~key; "
                f"quote values with special characters, e.g. 'tags=[a,b]' or optimizer.lr=0.01")
    cause = err.__cause__
    if isinstance(err, ConfigCompositionException) and isinstance(cause, (ConfigAttributeError, ConfigKeyError)) \
            and cause.full_key:
        key = str(cause.full_key)
        parent, _, leaf = key.rpartition(".")
        listed, accepted = _keys_under(parent, args, conf_dir)
        if leaf in accepted:  # an argument of the target that its yaml does not list
            return (f"{key} is an argument of {parent}'s target that its config does not list; "
                    f"valid: +{key}=<value> adds it; e.g. +{key}=<value>")
        valid = sorted(k for k in set(listed) | set(accepted) if not k.startswith("_"))
        hint = f"valid keys under {parent or 'the top level'}: {', '.join(valid)}; " if valid else ""
        return f"{key} is not a config key; {hint}e.g. fix the spelling"
    if isinstance(err, ConfigCompositionException):
        return (f"{first}; valid: key=value changes an existing key, +key=value adds a new one, ++key=value either; "
                f"e.g. optimizer.lr=0.01")
    return f"{first}; see python train.py --help"


def _keys_under(parent: str, args: list[str], conf_dir: Path) -> tuple[list[str], list[str]]:
    """``(keys the node lists, arguments its target accepts)`` once the command's group choices
    are applied; the second is empty for a node without ``_target_``."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import get_object
    from omegaconf import DictConfig, OmegaConf

    from seqvision.validate import signature_of

    groups = [a for a in args if "=" in a and "." not in a.split("=", 1)[0] and (conf_dir / a.split("=", 1)[0]).is_dir()]
    try:
        with initialize_config_dir(str(conf_dir), version_base="1.3"):
            cfg = compose("train", overrides=groups)
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if not isinstance(node, DictConfig):
            return [], []
        listed = sorted(str(k) for k in node.keys())
        target = node.get("_target_")
        params = signature_of(get_object(target))[0] if target else {}
        accepted = sorted(k for k, (_, default) in params.items() if default is not inspect.Parameter.empty)
        return listed, accepted
    except Exception:
        return [], []


def trainer_overrides(argv: list[str]) -> list[str]:
    """``trainer.<name>=v`` becomes ``++trainer.<name>=v`` (add or override), so any argument of
    Lightning's ``Trainer`` can be set whether or not ``conf/trainer`` lists it. Which names the
    Trainer takes is not decided here: config validation checks the ``trainer`` node against the
    Trainer's signature (``inspect.signature``, through ``seqvision.validate``), so a misspelt
    ``trainer.max_epoch=5`` is one line naming the valid arguments, and this stays free of the
    seconds that importing Lightning costs (``--help`` answers before that)."""
    out = [argv[0]]
    for arg in argv[1:]:
        key = _key(arg)
        if key and "=" in arg and not arg.startswith(("+", "~")) and key.startswith("trainer.") and key.count(".") == 1:
            arg = "++" + arg
        out.append(arg)
    return out


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
            cfg = compose("train", overrides=overrides)
    except HydraException as err:
        raise ConfigError(_explain(err, overrides, conf_dir)) from err
    finally:
        GlobalHydra.instance().clear()
    _check_task_name(cfg)


def _check_task_name(cfg) -> None:
    """``task_name`` names the run's folder and log file, which Hydra creates before any of our
    code runs; a name it cannot use would end in Hydra's traceback, so it is checked here."""
    from seqvision.constraints import FolderName
    from seqvision.validate import value_problem

    if (problem := value_problem("task_name", cfg.get("task_name"), FolderName, "train")) is not None:
        raise ConfigError(problem)


def prepare(argv: list[str], conf_dir: Path) -> list[str]:
    """The argv Hydra should see; prints ``error: ...`` and exits 2 on a mistake (see entry.py).
    ``--help`` is answered here (``seqvision.help``) and exits."""
    if any(a in ("--help", "-h") for a in argv[1:]):
        from seqvision.help import text

        print(text([a for a in argv[1:] if not a.startswith("-")], conf_dir))
        sys.exit(0)
    try:
        argv = trainer_overrides(rewrite_resume(argv))
        precheck(argv, conf_dir)
        return argv
    except ConfigError as err:
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        from seqvision.secrets import redact_text

        print(f"error: {redact_text(str(err))}", file=sys.stderr)
        sys.exit(err.exit_code)
