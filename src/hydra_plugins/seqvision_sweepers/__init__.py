"""seqvision's Hydra sweepers. Hydra instantiates sweepers only from the ``hydra_plugins``
namespace package, so they live here rather than in ``seqvision.sweep``."""
