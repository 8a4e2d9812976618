"""The KIE task types: one record per type with its group, result kind and inputs.

A catalog entry names its task type (``t2i``, ``i2v``, ``tts``...; the types of KIE's
price table, see ``reference/kie-models.md``); the type gives the group the model is
listed under, how its result is sent and which inputs the chat collects, in order. An
entry may override ``inputs`` and ``media`` where one model differs from its type.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GROUPS",
    "INPUT_KINDS",
    "MEDIA",
    "TASKS",
    "InputSpec",
    "TaskKind",
]

# The groups, in the order /models lists them (the way a user looks for a model).
GROUPS = (
    "image",
    "edit",
    "video",
    "animate",
    "music",
    "voice",
    "lipsync",
    "upscale",
    "cleanup",
    "isolate",
)
# How a result is sent: photo, video and audio are uploaded; text is sent as messages.
MEDIA = ("photo", "video", "audio", "text")
# What the chat can collect. ``photos`` is one or several photos (an album works too).
INPUT_KINDS = ("prompt", "text", "photo", "photos", "video", "audio")


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One input the chat collects and the request field it fills.

    Attributes:
        kind (:obj:`str`): One of :data:`INPUT_KINDS`.
        field (:obj:`str`): The request field (``prompt``, ``image_urls``, ``audio_url``...).
        required (:obj:`bool`): :obj:`False` offers a *Skip* button.
        single (:obj:`bool`): Send one URL string instead of a list of URLs.

    .. versionadded:: 0.1.0
    """

    kind: str
    field: str
    required: bool = True
    single: bool = False

    @property
    def is_file(self) -> bool:
        """:obj:`bool`: Whether the input is a file the user sends (not typed text)."""
        return self.kind not in ("prompt", "text")


@dataclass(frozen=True, slots=True)
class TaskKind:
    """What a task type means for the bot.

    .. versionadded:: 0.1.0
    """

    group: str
    media: str
    inputs: tuple[InputSpec, ...]


_PROMPT = InputSpec("prompt", "prompt")
_PHOTO = InputSpec("photo", "image_url", single=True)

TASKS: dict[str, TaskKind] = {
    "t2i": TaskKind("image", "photo", (_PROMPT,)),
    "i2i": TaskKind("edit", "photo", (_PROMPT, InputSpec("photos", "image_urls"))),
    "t2v": TaskKind("video", "video", (_PROMPT,)),
    "i2v": TaskKind("animate", "video", (_PROMPT, _PHOTO)),
    "v2v": TaskKind("animate", "video", (_PROMPT, InputSpec("video", "video_url", single=True))),
    "music": TaskKind("music", "audio", (_PROMPT,)),
    "sfx": TaskKind("music", "audio", (InputSpec("prompt", "text"),)),
    "tts": TaskKind("voice", "audio", (InputSpec("text", "text"),)),
    "stt": TaskKind("voice", "text", (InputSpec("audio", "audio_url", single=True),)),
    "lip_sync": TaskKind(
        "lipsync",
        "video",
        (_PHOTO, InputSpec("audio", "audio_url", single=True)),
    ),
    "upscale": TaskKind("upscale", "photo", (_PHOTO,)),
    "bg_remove": TaskKind("cleanup", "photo", (_PHOTO,)),
    "watermark_remove": TaskKind(
        "cleanup", "video", (InputSpec("video", "video_url", single=True),)
    ),
    "audio_isolation": TaskKind(
        "isolate", "audio", (InputSpec("audio", "audio_url", single=True),)
    ),
}
