"""The one exception type the CLI turns into a one-line message and exit code 2."""


class ToolchainError(Exception):
    """Bad input or an impossible request, described in one line for the user."""


EXIT_BAD_INPUT = 2
