"""LightningDataModules. Images live in memory as uint8 tensors; batches are cut from them.

Data never imports models or tasks: a data module publishes what it gives (``input_kind``:
``image`` or ``clip``; ``target_kind``: ``label`` or ``frames``) and its shapes
(``input_shape``, ``num_classes``, ``output_frames``); the task config says what it takes, and
the run driver builds the net the model family has for that pairing.
"""
