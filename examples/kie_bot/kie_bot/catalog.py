"""The model catalog and Stars packages, loaded from ``catalog.yaml`` and validated.

A model knows its KIE API family, the request it needs, its price in credits and how its
result is sent. :func:`build_request` turns a user's wizard answers into the complete
request body (every field explicit: KIE's server defaults are not relied upon).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kie_bot.kie import Api

__all__ = [
    "DEFAULT_CATALOG",
    "Catalog",
    "CatalogError",
    "Choice",
    "ImageInput",
    "Model",
    "Package",
    "Params",
    "build_request",
    "load_catalog",
]

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")
CATEGORIES = ("image", "video", "music")
MEDIA = ("photo", "video", "audio")


class CatalogError(ValueError):
    """``catalog.yaml`` is malformed; the message names the entry and the field.

    .. versionadded:: 0.1.0
    """


@dataclass(frozen=True, slots=True)
class Choice:
    """One button question of the wizard (aspect ratio, vocals, ...).

    .. versionadded:: 0.1.0
    """

    field: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImageInput:
    """An input photo: ``mode`` is ``optional`` or ``required``.

    .. versionadded:: 0.1.0
    """

    field: str
    mode: str
    single: bool = False


@dataclass(frozen=True, slots=True)
class Model:
    """One model on sale.

    .. versionadded:: 0.1.0
    """

    id: str
    title: str
    category: str
    api: Api
    slug: str
    price: int
    media: str
    choice: Choice | None = None
    image: ImageInput | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Package:
    """A Stars top-up package: pay ``stars`` XTR, receive ``credits``.

    .. versionadded:: 0.1.0
    """

    id: str
    stars: int
    credits: int


@dataclass(frozen=True, slots=True)
class Params:
    """A user's wizard answers.

    .. versionadded:: 0.1.0
    """

    prompt: str
    choice: str | None = None
    image_urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Catalog:
    """The loaded catalog.

    .. versionadded:: 0.1.0
    """

    models: tuple[Model, ...]
    packages: tuple[Package, ...]

    def model(self, model_id: str) -> Model | None:
        """Return the model with this id, or :obj:`None`."""
        return next((m for m in self.models if m.id == model_id), None)

    def in_category(self, category: str) -> list[Model]:
        """Return the models of one category, in file order."""
        return [m for m in self.models if m.category == category]

    def package(self, package_id: str) -> Package | None:
        """Return the package with this id, or :obj:`None`."""
        return next((p for p in self.packages if p.id == package_id), None)


def load_catalog(path: Path = DEFAULT_CATALOG) -> Catalog:
    """Load and validate a catalog file.

    Args:
        path (:class:`pathlib.Path`, optional): The YAML file; the bundled one by default.

    Returns:
        :class:`Catalog`

    Raises:
        CatalogError: With the offending entry and field named.

    .. versionadded:: 0.1.0
    """
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise CatalogError(f"{path.name}: expected a mapping with 'models' and 'packages'")
    models = tuple(_model(entry, i) for i, entry in enumerate(raw.get("models") or []))
    packages = tuple(_package(entry, i) for i, entry in enumerate(raw.get("packages") or []))
    for what, ids in (("model", [m.id for m in models]), ("package", [p.id for p in packages])):
        if len(set(ids)) != len(ids):
            raise CatalogError(f"{path.name}: duplicate {what} id")
        if not ids:
            raise CatalogError(f"{path.name}: no {what}s")
    return Catalog(models, packages)


def _need(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise CatalogError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def _model(entry: Any, index: int) -> Model:
    where = f"models[{index}]"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected a mapping")
    model_id = _need(entry, "id", str, where)
    where = f"model {model_id!r}"
    # Telegram callback data is capped at 64 bytes; ids travel inside it.
    if len(model_id.encode()) > 24 or ":" in model_id:
        raise CatalogError(f"{where}: id must be at most 24 bytes and contain no ':'")
    price = _need(entry, "price", int, where)
    if price <= 0:
        raise CatalogError(f"{where}: price must be a positive number of credits")
    try:
        api = Api(str(entry.get("api")))
    except ValueError:
        raise CatalogError(f"{where}: api must be one of {[a.value for a in Api]}") from None
    category = _need(entry, "category", str, where)
    media = _need(entry, "media", str, where)
    if category not in CATEGORIES or media not in MEDIA:
        raise CatalogError(f"{where}: category in {CATEGORIES}, media in {MEDIA}")
    return Model(
        id=model_id,
        title=_need(entry, "title", str, where),
        category=category,
        api=api,
        slug=_need(entry, "slug", str, where),
        price=price,
        media=media,
        choice=_choice(entry.get("choice"), where),
        image=_image(entry.get("image"), where),
        extra=dict(entry.get("extra") or {}),
    )


def _choice(raw: Any, where: str) -> Choice | None:
    if raw is None:
        return None
    values = raw.get("values") if isinstance(raw, dict) else None
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise CatalogError(f"{where}: choice.values must be a non-empty list of strings")
    return Choice(_need(raw, "field", str, where), tuple(values))


def _image(raw: Any, where: str) -> ImageInput | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("mode") not in ("optional", "required"):
        raise CatalogError(f"{where}: image.mode must be 'optional' or 'required'")
    return ImageInput(_need(raw, "field", str, where), raw["mode"], bool(raw.get("single")))


def _package(entry: Any, index: int) -> Package:
    where = f"packages[{index}]"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected a mapping")
    package = Package(
        _need(entry, "id", str, where),
        _need(entry, "stars", int, where),
        _need(entry, "credits", int, where),
    )
    if package.stars <= 0 or package.credits <= 0 or ":" in package.id:
        raise CatalogError(f"{where}: stars and credits must be positive, id without ':'")
    return package


def build_request(model: Model, params: Params, callback_url: str | None = None) -> dict[str, Any]:
    """Return the complete KIE request body for *model* with the user's *params*.

    Args:
        model (:class:`Model`): The catalog entry.
        params (:class:`Params`): Prompt, the chosen value and uploaded image URLs.
        callback_url (:obj:`str`, optional): Sent as ``callBackUrl`` (Suno requires one);
            the bot still polls, which stays the authority.

    Returns:
        :obj:`dict`: The JSON body for :meth:`kie_bot.kie.KieClient.create_task`.

    .. versionadded:: 0.1.0
    """
    fields: dict[str, Any] = dict(model.extra)
    fields["prompt"] = params.prompt
    if model.choice is not None:
        value = params.choice if params.choice in model.choice.values else model.choice.values[0]
        fields[model.choice.field] = value
    if model.image is not None and params.image_urls:
        urls = params.image_urls
        fields[model.image.field] = urls[0] if model.image.single else list(urls)
    callback = {"callBackUrl": callback_url} if callback_url else {}
    if model.api is Api.MARKET:
        return {"model": model.slug, **callback, "input": fields}
    if model.api is Api.SUNO:
        # Suno's switch is a boolean; the catalog offers it as two buttons.
        fields["instrumental"] = fields.get("instrumental") == "instrumental"
        fields.setdefault("customMode", False)
    elif model.api is Api.GPT4O:
        return {**fields, **callback}  # 4o Image has no model field
    return {**fields, **callback, "model": model.slug}
