"""LightningDataModules. Images live in memory as uint8 tensors; batches are cut from them.

Data never imports models: a data module publishes ``input_shape``, ``num_classes`` and
``task`` ("classify" or "predict"), and the run driver builds the net from those.
"""
