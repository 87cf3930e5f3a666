"""The one exception a user can cause."""


class PlayasError(Exception):
    """A problem with the user's input, said in one sentence; the CLI prints it and exits 2."""
