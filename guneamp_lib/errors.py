"""User-facing errors and warnings.

Every problem a user can cause (a missing file, a stereo take, clean and amp at
different rates...) is raised as :class:`GuneampError` with a message that says what
is wrong and what to do about it. The command line prints that message without a
traceback; notebooks show it as a normal exception.
"""


class GuneampError(ValueError):
    """Bad input or a request that cannot be met; the message says how to fix it."""


class GuneampWarning(UserWarning):
    """Something worth knowing that does not stop the work (clipping, stereo mixed to mono)."""
