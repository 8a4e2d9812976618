"""Typed errors of the KIE.ai API, one class per documented code family.

Every error carries the KIE ``code`` and the server's message, never the API key: the
client builds them from the response body only.
"""

from __future__ import annotations

__all__ = [
    "KieAuthError",
    "KieError",
    "KieGenerationFailed",
    "KieInsufficientCredits",
    "KieMaintenance",
    "KieRateLimited",
    "KieServerError",
    "KieTransportError",
    "KieValidationError",
    "error_for_code",
]


class KieError(Exception):
    """Base class of every KIE.ai error.

    Args:
        code (:obj:`int`): The ``code`` from the response body (or the HTTP status when the
            body had none; ``0`` for transport errors).
        message (:obj:`str`): The server's ``msg`` / ``message`` text.

    Attributes:
        code (:obj:`int`): See above.
        message (:obj:`str`): See above.
        transient (:obj:`bool`): Whether repeating an idempotent read may succeed.

    .. versionadded:: 0.1.0
    """

    transient = False

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"KIE error {code}: {message}")
        self.code = code
        self.message = message


class KieAuthError(KieError):
    """401: the API key was refused.

    .. versionadded:: 0.1.0
    """


class KieInsufficientCredits(KieError):
    """402: the operator's KIE account is out of credits (not the user's balance).

    .. versionadded:: 0.1.0
    """


class KieValidationError(KieError):
    """400/404/422 (and 505): the request itself was refused; repeating it will not help.

    An unknown ``taskId`` answers 422 ``recordInfo is null``.

    .. versionadded:: 0.1.0
    """


class KieRateLimited(KieError):
    """429: more than 20 new generations per 10 s on the account; the request was dropped.

    .. versionadded:: 0.1.0
    """

    transient = True


class KieMaintenance(KieError):
    """455: the service is unavailable for maintenance.

    .. versionadded:: 0.1.0
    """

    transient = True


class KieServerError(KieError):
    """5xx (except 501): a server-side failure.

    Some validation errors also come back as 500, so a *create* is never retried on it.

    .. versionadded:: 0.1.0
    """

    transient = True


class KieGenerationFailed(KieError):
    """501: the generation itself failed.

    .. versionadded:: 0.1.0
    """


class KieTransportError(KieError):
    """The request could not be completed (connection refused, timeout, bad JSON).

    Attributes:
        maybe_sent (:obj:`bool`): :obj:`True` when the request may have reached KIE, so a
            create may have started a task: such a create is reported, never retried.

    .. versionadded:: 0.1.0
    """

    transient = True

    def __init__(self, message: str, *, maybe_sent: bool) -> None:
        super().__init__(0, message)
        self.maybe_sent = maybe_sent


_BY_CODE: dict[int, type[KieError]] = {
    400: KieValidationError,
    401: KieAuthError,
    402: KieInsufficientCredits,
    404: KieValidationError,
    422: KieValidationError,
    429: KieRateLimited,
    455: KieMaintenance,
    501: KieGenerationFailed,
    505: KieValidationError,
}


def error_for_code(code: int, message: str) -> KieError:
    """Return the typed error for a KIE ``code``.

    Args:
        code (:obj:`int`): The body ``code`` (or HTTP status).
        message (:obj:`str`): The server's message.

    Returns:
        :class:`KieError`: An instance of the most specific subclass.

    .. versionadded:: 0.1.0
    """
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = KieServerError if 500 <= code <= 599 else KieError
    return cls(code, message)
