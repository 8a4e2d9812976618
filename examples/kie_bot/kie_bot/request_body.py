"""The KIE request body for a model and a user's answers, laid out per API family.

Every field is explicit (KIE's server defaults are not relied upon): the model's fixed
``extra`` fields, the chosen variant's fields, the typed text, the uploaded files' URLs
and the chosen option; then the family's own layout (the market API nests the fields in
``input``; Suno wants a boolean; 4o Image has no ``model`` field).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from kie_bot.catalog import Model, Params
from kie_bot.kie import Api

__all__ = ["build_request"]


def _file_urls(model: Model, params: Params) -> dict[str, tuple[str, ...]]:
    """Request field -> uploaded file URLs (``image_urls`` for the first photo input)."""
    files = dict(params.files)
    photo = next((i for i in model.inputs if i.kind in ("photo", "photos")), None)
    if photo is not None and params.image_urls and photo.field not in files:
        files[photo.field] = params.image_urls
    return files


def build_request(model: Model, params: Params, callback_url: str | None = None) -> dict[str, Any]:
    """Return the complete KIE request body for *model* with the user's *params*.

    Args:
        model (:class:`kie_bot.catalog.Model`): The catalog entry.
        params (:class:`kie_bot.catalog.Params`): The prompt, the variant and option
            chosen, the file URLs.
        callback_url (:obj:`str`, optional): Sent as ``callBackUrl`` (Suno requires one);
            the bot still polls, which stays the authority.

    Returns:
        :obj:`dict`: The JSON body for :meth:`kie_bot.kie.KieClient.create_task`.

    .. versionadded:: 0.1.0
    """
    fields: dict[str, Any] = dict(model.extra)
    fields.update(model.variant(params.variant).fields)
    files = _file_urls(model, params)
    for spec in model.inputs:
        if not spec.is_file:
            fields[spec.field] = params.prompt
        elif files.get(spec.field):
            urls = files[spec.field]
            fields[spec.field] = urls[0] if spec.single else list(urls)
    if model.choice is not None:
        value = params.choice if params.choice in model.choice.values else model.choice.values[0]
        fields[model.choice.field] = value
    callback = {"callBackUrl": callback_url} if callback_url else {}
    return _SHAPES[model.api](model, fields, callback)


def _market_shape(model: Model, fields: dict[str, Any], cb: dict[str, Any]) -> dict[str, Any]:
    return {"model": model.slug, **cb, "input": fields}


def _suno_shape(model: Model, fields: dict[str, Any], cb: dict[str, Any]) -> dict[str, Any]:
    # Suno's switch is a boolean; the catalog offers it as two buttons.
    fields["instrumental"] = fields.get("instrumental") == "instrumental"
    fields.setdefault("customMode", False)
    return {**fields, **cb, "model": model.slug}


def _flat_shape(model: Model, fields: dict[str, Any], cb: dict[str, Any]) -> dict[str, Any]:
    return {**fields, **cb, "model": model.slug}


def _gpt4o_shape(model: Model, fields: dict[str, Any], cb: dict[str, Any]) -> dict[str, Any]:
    return {**fields, **cb}  # 4o Image has no model field


# How each API family lays out the request: one row per family (a test walks Api).
_SHAPES = {
    Api.MARKET: _market_shape,
    Api.SUNO: _suno_shape,
    Api.VEO: _flat_shape,
    Api.FLUX: _flat_shape,
    Api.GPT4O: _gpt4o_shape,
}
