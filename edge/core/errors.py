"""The one exception type every stage raises for a problem the user can fix."""


class UserError(Exception):
    """A bad input: the message is one line naming the file or value and what was expected.

    The CLI prints it without a traceback and exits with ``exit_code``.
    """

    exit_code = 2

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


def describe_os_error(error: OSError) -> str:
    """The reason an OS call failed, as one short phrase ("read-only file system", "no space left on device")."""
    text = error.strerror or str(error) or type(error).__name__
    return text[:1].lower() + text[1:]
