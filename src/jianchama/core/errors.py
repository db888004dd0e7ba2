"""Domain errors: what went wrong, in words a user can act on."""


class DomainError(Exception):
    """A refused action. `message` is shown to the user as it is, in Chinese."""

    def __init__(self, message: str, *, problems: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.problems = problems or []


class PermissionDenied(DomainError):
    """The acting user may not do this."""


class InvalidTransition(DomainError):
    """The object is not in a state that allows the requested change."""


def raise_if(problems: list[str], what: str) -> None:
    """Refuse with every problem at once: 「检查任务未保存：执法人员不得少于两人；请填写检查依据」."""
    if problems:
        raise DomainError(f"{what}：" + "；".join(problems), problems=problems)
