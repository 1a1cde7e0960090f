"""The exception raised for policies that cannot be scored."""

from __future__ import annotations

from typing import Any, TypedDict


class ErrorDetail(TypedDict):
    """One problem in a policy: where (a JSON path such as ``Statement[2].Effect``) and what."""

    path: str
    message: str


class PolicyError(ValueError):
    """A policy that cannot be scored: malformed JSON, an invalid policy shape, text that is not
    UTF-8, or input larger than 1 MiB.

    ``str(err)`` is the whole message; :meth:`errors` lists every problem with its JSON path
    (``""`` for the document as a whole). In :func:`~iam_risk_score.score_many`, :attr:`index`
    is the position of the failing policy; in :func:`~iam_risk_score.diff`, :attr:`side` is
    ``"old"`` or ``"new"``.
    """

    index: int | None
    side: str | None

    def __init__(
        self,
        message: str,
        errors: list[ErrorDetail] | None = None,
        *,
        index: int | None = None,
        side: str | None = None,
    ) -> None:
        super().__init__(message)
        self._errors: list[ErrorDetail] = list(errors) if errors is not None else [
            {"path": "", "message": message}
        ]
        self.index = index
        self.side = side

    def errors(self) -> list[ErrorDetail]:
        """Every problem found, in document order, each as ``{"path": ..., "message": ...}``."""
        return [{"path": e["path"], "message": e["message"]} for e in self._errors]

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep the details when pickled (e.g. across multiprocessing workers).
        return (_rebuild, (str(self), self._errors, self.index, self.side))


def _rebuild(
    message: str, errors: list[ErrorDetail], index: int | None, side: str | None
) -> PolicyError:
    return PolicyError(message, errors, index=index, side=side)
