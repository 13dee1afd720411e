"""Tools for the clinic's staff: the command line (`python -m staff`). They read the core
(clinic/) and never the Rasa server or the action server."""
