"""Lightning callbacks and plugins that make runs safe to kill and easy to read."""
