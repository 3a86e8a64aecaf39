"""``python train.py --help``: the config groups, their options and the composed config.

Written here rather than left to Hydra, whose help lists the options of every group, its own
and every installed plugin's (launchers, sweepers, logging), by building a fresh config
repository for each of about 120 groups: 2 to 3 seconds on a 2-core machine before a word is
printed. This prints what Hydra's template prints for an application (the header and footer of
``conf/hydra/default.yaml``, the groups of ``conf/``, the config the given overrides compose)
from one composition and a listing of the config folders. ``--hydra-help`` is still Hydra's.
"""

from __future__ import annotations

from pathlib import Path


def groups(conf_dir: Path) -> dict[str, list[str]]:
    """``{group: options}`` of the config folders, nested groups as ``a/b``; ``hydra`` excluded."""
    found: dict[str, list[str]] = {}
    for folder in sorted(p for p in conf_dir.rglob("*") if p.is_dir()):
        group = folder.relative_to(conf_dir).as_posix()
        if group.split("/")[0] == "hydra":
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if options:
            found[group] = options
    for link in sorted(p for p in conf_dir.iterdir() if p.is_symlink() and p.is_dir()):  # experiment, sweep
        found[link.name] = sorted(p.stem for p in link.glob("*.yaml"))
    return dict(sorted(found.items()))


def text(overrides: list[str], conf_dir: Path) -> str:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    help_cfg = OmegaConf.load(conf_dir / "hydra" / "default.yaml").help
    try:
        with initialize_config_dir(str(conf_dir), version_base="1.3"):
            cfg = compose("train", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()
    listing = "\n".join(f"{group}: {', '.join(options)}" for group, options in groups(conf_dir).items())
    return (f"{help_cfg.header}\n== Configuration groups ==\nCompose your configuration from those groups "
            f"(group=option)\n\n{listing}\n\n== Config ==\nOverride anything in the config (foo.bar=value)\n\n"
            f"{OmegaConf.to_yaml(cfg)}\n{help_cfg.footer}")
