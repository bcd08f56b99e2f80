"""The one exception type the workflow raises for bad input: one line, naming the cause and the fix."""


class WorkflowError(Exception):
    """Bad input or a mismatch between artifacts. The message is a single line meant for the user."""


class ShapeMismatchError(WorkflowError):
    """An artifact's tensor shape disagrees with the shape in its path (or with its partner artifact)."""
