"""The model catalog and Stars packages, loaded from ``catalog.yaml`` and validated.

A model knows its KIE API family and task type (:mod:`kie_bot.tasks`: its group, the
inputs the chat collects, how its result is sent), and its price variants: each variant
has KIE's own credit price and the request fields that select it. The user's price is
KIE's price times ``PRICE_MARKUP``, rounded up to whole credits, so nothing is ever sold
below what KIE charges; a price change in KIE's table is a change of ``catalog.yaml`` only.

:func:`kie_bot.request_body.build_request` turns a user's answers into the request.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from kie_bot.kie import Api
from kie_bot.tasks import GROUPS, INPUT_KINDS, MEDIA, TASKS, InputSpec

__all__ = [
    "DEFAULT_CATALOG",
    "DEFAULT_MARKUP",
    "GROUPS",
    "Catalog",
    "CatalogError",
    "Choice",
    "Model",
    "Package",
    "Params",
    "Variant",
    "load_catalog",
    "user_price",
]

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")
# One bot credit per KIE credit: a credit is sold for about a Star, which earns the
# operator more than the $0.005 a KIE credit costs, so 1 never sells below cost.
DEFAULT_MARKUP = Decimal(1)
_MODEL_KEYS = frozenset(
    {"id", "title", "slug", "type", "api", "group", "media", "inputs", "kie", "variants"}
    | {"choice", "extra"}
)


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
class Variant:
    """One price point of a model (a resolution, a duration, a quality...).

    Attributes:
        label (:obj:`str`): Shown on its button ("" for a model with one variant).
        kie (:class:`decimal.Decimal`): KIE's price in KIE credits.
        price (:obj:`int`): The user's price: ``ceil(kie * PRICE_MARKUP)``.
        fields (dict[:obj:`str`, :obj:`typing.Any`]): Request fields that select it.

    .. versionadded:: 0.1.0
    """

    label: str
    kie: Decimal
    price: int
    fields: dict[str, Any] = field(default_factory=dict)


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
    type: str
    media: str
    inputs: tuple[InputSpec, ...]
    variants: tuple[Variant, ...]
    choice: Choice | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def price(self) -> int:
        """:obj:`int`: The lowest user price ("from N" in the model list)."""
        return min(v.price for v in self.variants)

    def variant(self, index: int | None) -> Variant:
        """The variant *index* (the first one when out of range or :obj:`None`)."""
        if index is None or not 0 <= index < len(self.variants):
            return self.variants[0]
        return self.variants[index]

    def price_for(self, params: Params) -> int:
        """The user price of a generation with these answers."""
        return self.variant(params.variant).price


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

    ``files`` maps a request field to the URLs of the files uploaded for it (photos,
    a video, an audio file); ``image_urls`` fills the model's first photo input when
    ``files`` does not.

    .. versionadded:: 0.1.0
    """

    prompt: str
    choice: str | None = None
    image_urls: tuple[str, ...] = ()
    variant: int | None = None
    files: tuple[tuple[str, tuple[str, ...]], ...] = ()


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
        """Return the models of one group, in file order."""
        return [m for m in self.models if m.category == category]

    @property
    def groups(self) -> tuple[str, ...]:
        """tuple[:obj:`str`, ...]: The groups that have models, in :data:`GROUPS` order."""
        present = {m.category for m in self.models}
        return tuple(g for g in GROUPS if g in present)

    def package(self, package_id: str) -> Package | None:
        """Return the package with this id, or :obj:`None`."""
        return next((p for p in self.packages if p.id == package_id), None)


def user_price(kie: Decimal, markup: Decimal) -> int:
    """The user's price for a KIE price: ``kie * markup`` rounded up to whole credits.

    Example:
        >>> user_price(Decimal("14.14"), Decimal("1.5"))
        22

    .. versionadded:: 0.1.0
    """
    return int((kie * markup).to_integral_value(rounding=ROUND_CEILING))


def load_catalog(path: Path = DEFAULT_CATALOG, *, markup: Decimal = DEFAULT_MARKUP) -> Catalog:
    """Load and validate a catalog file.

    Args:
        path (:class:`pathlib.Path`, optional): The YAML file; the bundled one by default.
        markup (:class:`decimal.Decimal`, optional): ``PRICE_MARKUP``, at least 1.

    Returns:
        :class:`Catalog`

    Raises:
        CatalogError: One line naming the offending entry and field.

    .. versionadded:: 0.1.0
    """
    if not markup >= 1:
        raise CatalogError("PRICE_MARKUP must be at least 1: a lower one sells below KIE's price")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogError(f"{path.name}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(raw, dict):
        raise CatalogError(f"{path.name}: expected a mapping with 'models' and 'packages'")
    models = tuple(_model(entry, i, markup) for i, entry in enumerate(raw.get("models") or []))
    packages = tuple(_package(entry, i) for i, entry in enumerate(raw.get("packages") or []))
    for what, ids in (("model", [m.id for m in models]), ("package", [p.id for p in packages])):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise CatalogError(f"{path.name}: duplicate {what} id {duplicates[0]!r}")
        if not ids:
            raise CatalogError(f"{path.name}: no {what}s")
    return Catalog(models, packages)


def _need(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
        raise CatalogError(f"{where}: '{key}' must be a {kind.__name__}, got {value!r}")
    return value


def _model(entry: Any, index: int, markup: Decimal) -> Model:
    where = f"models[{index}]"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where}: expected a mapping")
    model_id = _need(entry, "id", str, where)
    where = f"model {model_id!r}"
    unknown = sorted(set(entry) - _MODEL_KEYS)
    if unknown:
        raise CatalogError(f"{where}: unknown field {unknown[0]!r}")
    # Telegram callback data is capped at 64 bytes; ids travel inside it.
    if len(model_id.encode()) > 24 or ":" in model_id:
        raise CatalogError(f"{where}: id must be at most 24 bytes and contain no ':'")
    try:
        api = Api(str(entry.get("api", "market")))
    except ValueError:
        raise CatalogError(f"{where}: api must be one of {[a.value for a in Api]}") from None
    task_type = _need(entry, "type", str, where)
    task = TASKS.get(task_type)
    if task is None:
        raise CatalogError(f"{where}: type must be one of {sorted(TASKS)}")
    group = entry.get("group", task.group)
    media = entry.get("media", task.media)
    if group not in GROUPS or media not in MEDIA:
        raise CatalogError(f"{where}: group must be one of {GROUPS}, media one of {MEDIA}")
    inputs = _inputs(entry["inputs"], where) if "inputs" in entry else task.inputs
    if not inputs or sum(not spec.is_file for spec in inputs) > 1:
        # The chat asks for one typed text at most (Params.prompt), and a model with no
        # input at all would charge for nothing the user chose.
        raise CatalogError(f"{where}: inputs must be one or more, with at most one text")
    extra = entry.get("extra") or {}
    if not isinstance(extra, dict):
        raise CatalogError(f"{where}: extra must be a mapping of request fields")
    return Model(
        id=model_id,
        title=_need(entry, "title", str, where),
        category=group,
        api=api,
        slug=_need(entry, "slug", str, where),
        type=task_type,
        media=media,
        inputs=inputs,
        variants=_variants(entry, where, markup),
        choice=_choice(entry.get("choice"), where),
        extra=dict(extra),
    )


def _kie_price(value: Any, where: str) -> Decimal:
    """KIE's price as an exact decimal (0.2 stays 0.2, so rounding up is exact too)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise CatalogError(f"{where}: 'kie' must be KIE's price in credits, got {value!r}")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        price = Decimal("NaN")
    if not price.is_finite() or price <= 0:
        raise CatalogError(f"{where}: 'kie' must be a positive number of KIE credits")
    return price


def _variants(entry: dict[str, Any], where: str, markup: Decimal) -> tuple[Variant, ...]:
    if ("kie" in entry) == ("variants" in entry):
        raise CatalogError(f"{where}: needs a price: either 'kie' or 'variants' (not both)")
    if "kie" in entry:
        kie = _kie_price(entry["kie"], where)
        return (Variant("", kie, user_price(kie, markup)),)
    raw = entry["variants"]
    if not isinstance(raw, list) or not raw:
        raise CatalogError(f"{where}: 'variants' must be a non-empty list")
    variants = []
    for i, item in enumerate(raw):
        at = f"{where} variant {i}"
        if not isinstance(item, dict) or set(item) - {"label", "kie", "set"}:
            raise CatalogError(f"{at}: expected {{label, kie, set}}")
        if "kie" not in item:
            raise CatalogError(f"{at}: no price ('kie')")
        fields = item.get("set") or {}
        if not isinstance(fields, dict):
            raise CatalogError(f"{at}: 'set' must be a mapping of request fields")
        kie = _kie_price(item["kie"], at)
        variants.append(
            Variant(_need(item, "label", str, at), kie, user_price(kie, markup), fields)
        )
    if len(variants) > 1 and len({repr(sorted(v.fields.items())) for v in variants}) < len(
        variants
    ):
        # Two variants that send the same request would charge two prices for one thing.
        raise CatalogError(f"{where}: variants must differ in the fields they 'set'")
    return tuple(variants)


def _inputs(raw: Any, where: str) -> tuple[InputSpec, ...]:
    if not isinstance(raw, list):
        raise CatalogError(f"{where}: 'inputs' must be a list")
    specs = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"kind", "field", "required", "single"}:
            raise CatalogError(f"{where}: each input is {{kind, field, required, single}}")
        kind = item.get("kind")
        if kind not in INPUT_KINDS:
            raise CatalogError(
                f"{where}: input kind {kind!r} cannot be collected in the chat "
                f"(one of {', '.join(INPUT_KINDS)})"
            )
        specs.append(
            InputSpec(
                kind,
                _need(item, "field", str, where),
                bool(item.get("required", True)),
                bool(item.get("single", False)),
            )
        )
    return tuple(specs)


def _choice(raw: Any, where: str) -> Choice | None:
    if raw is None:
        return None
    values = raw.get("values") if isinstance(raw, dict) else None
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise CatalogError(f"{where}: choice.values must be a non-empty list of strings")
    return Choice(_need(raw, "field", str, where), tuple(values))


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
