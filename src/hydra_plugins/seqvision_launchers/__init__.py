"""seqvision's Hydra launchers: Hydra's own plugins with what a sweep on a cluster needs
(``ray_launcher.py``). Hydra instantiates launchers from the ``hydra_plugins`` namespace package,
so they live here rather than in ``seqvision.sweep``."""
