"""`python -m clinic.red_flags`: fit the screen's learned model now (make setup does),
so that no server start waits for it; a no-op while the labelled messages are unchanged."""
from clinic.red_flags.learned import labelled_messages, load_or_fit
from clinic.settings import var_dir

if __name__ == "__main__":
    load_or_fit(var_dir(), labelled_messages())
