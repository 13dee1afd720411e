"""`make bench` and `make soak`: measured runs of the assistant under load (reports here)."""
