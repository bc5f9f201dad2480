"""Training loops and checkpoints shared by the chapters."""
