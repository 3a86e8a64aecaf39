"""Plain nn.Modules. Nothing here imports Lightning, so every net is usable on its own."""
