"""The one exception type the CLI turns into a single clear line and a non-zero exit."""


class FpgaflowError(Exception):
    pass
