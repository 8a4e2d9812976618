"""Validate a Render Blueprint (render.yaml) for a polling bot before Render sees it.

The rules catch what breaks a polling bot on Render: a ``web`` service that never binds
``$PORT`` ("Port scan timeout"), several instances polling at once without a lease (409
Conflict), a free plan on a worker, missing commands or env vars, typos in keys.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
from collections.abc import Collection, Hashable, Iterable, Iterator
from typing import Any, Literal

from ._render_yaml import (
    BlueprintUnreadable,
    LineMap,
    RenderYamlUnavailable,
    load_blueprint,
    read_blueprint,
)

__all__ = ["RenderFinding", "RenderYamlUnavailable", "check_render_yaml"]

PORT_SCAN_MESSAGE = (
    "Port scan timeout reached, no open ports detected. Bind your service to at least one"
    " port. If you don't need to receive traffic on any port, create a background worker"
    " instead."
)
TOKEN_VARS = ("TELEGRAM_BOT_TOKEN", "BOT_TOKEN")

_TOP_KEYS = {"services", "databases", "envVarGroups", "previews", "projects", "ungrouped"}
_SERVICE_KEYS = {
    "type", "name", "runtime", "env", "plan", "region", "repo", "branch", "rootDir",
    "buildCommand", "startCommand", "preDeployCommand", "dockerfilePath", "dockerContext",
    "dockerCommand", "image", "registryCredential", "autoDeploy", "autoDeployTrigger",
    "buildFilter", "healthCheckPath", "maxShutdownDelaySeconds", "numInstances", "scaling",
    "envVars", "disk", "domains", "schedule", "staticPublishPath", "headers", "routes",
    "pullRequestPreviewsEnabled", "previews", "ipAllowList", "maxmemoryPolicy",
}  # fmt: skip
_DATABASE_KEYS = {
    "name", "plan", "databaseName", "user", "postgresMajorVersion", "region", "ipAllowList",
    "readReplicas", "highAvailability", "diskSizeGB", "previewPlan", "previewDiskSizeGB",
}  # fmt: skip
_ENV_KEYS = {"key", "value", "generateValue", "sync", "fromDatabase", "fromService", "fromGroup",
             "previewValue"}  # fmt: skip
_TYPES = {"web", "pserv", "worker", "cron", "keyvalue", "redis"}
_RUNTIMES = {"python", "node", "ruby", "go", "rust", "elixir", "docker", "image", "static"}
_PLANS = {"free", "starter", "standard", "pro", "pro plus", "pro max", "pro ultra",
          "starter plus", "standard plus"}  # fmt: skip
_DB_PROPERTIES = {"connectionString", "host", "port", "user", "password", "database"}
_TRIGGERS = {"commit", "checksPass", "off"}
_NO_FREE = {"worker", "pserv", "cron"}
_BOT_TYPES = {"web", "worker", "pserv"}
_BINDS_PORT = re.compile(r"\$\{?PORT\b|--health-port|SAFE_POLLING_HEALTH_PORT")


@dataclasses.dataclass(frozen=True)
class RenderFinding:
    """One problem found in a render.yaml.

    Args:
        level: ``"error"`` (Render would fail, or the bot would misbehave) or ``"warning"``.
        message: What is wrong and what to write instead; names the service and the key.
        service: Name of the service or database concerned, if any.
        key: The key concerned, if any.
        line: 1-based line in the file, when known.

    .. versionadded:: 0.1.0
    """

    level: Literal["error", "warning"]
    message: str
    service: str | None = None
    key: str | None = None
    line: int | None = None

    @property
    def is_error(self) -> bool:
        """:obj:`True` for an error, :obj:`False` for a warning."""
        return self.level == "error"

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{self.level}: {where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-ready :obj:`dict`."""
        return dataclasses.asdict(self)


def check_render_yaml(
    source: str | os.PathLike[str], *, require_env: Iterable[str] = ()
) -> list[RenderFinding]:
    """Validate a Render Blueprint for a polling bot.

    A file that cannot be read, is not UTF-8, is not valid YAML or is beyond the
    bounds (1 MB, 100,000 nodes once aliases are expanded, 64 levels deep) gives one
    error finding instead of an exception, as does a value of an unexpected type.

    Args:
        source: A path (:class:`os.PathLike`, or a :obj:`str` without a newline) or the
            YAML text itself (a :obj:`str` with at least one newline).
        require_env: Variables every bot service must declare, besides the bot token
            (``TELEGRAM_BOT_TOKEN`` or its alias ``BOT_TOKEN``), e.g. ``["KIE_API_KEY"]``.

    Returns:
        list[:class:`RenderFinding`]: Errors and warnings in file order; empty when valid.

    Raises:
        RenderYamlUnavailable: PyYAML is not installed.

    Example:
        .. code:: python

            for finding in check_render_yaml("render.yaml", require_env=["KIE_API_KEY"]):
                print(finding)

    .. versionadded:: 0.1.0
    """
    try:
        data = load_blueprint(read_blueprint(source))
    except BlueprintUnreadable as exc:
        return [RenderFinding("error", str(exc), line=exc.line)]
    return list(_Checker(data, (*TOKEN_VARS[:1], *require_env)).run())


def _line(mapping: Any, key: str | None = None) -> int | None:
    if not isinstance(mapping, LineMap):
        return None
    return mapping.key_lines.get(key, mapping.line) if key else mapping.line


def _suggest(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Checker:
    def __init__(self, data: Any, required: tuple[str, ...]) -> None:
        self.data = data
        self.required = required
        self.databases: set[str] = set()
        self.groups: dict[str, set[str]] = {}

    def run(self) -> Iterator[RenderFinding]:
        if not isinstance(self.data, dict):
            yield RenderFinding("error", "the top level must be a mapping with 'services:'")
            return
        for key in self.data:
            if str(key) not in _TOP_KEYS:
                yield self._at(
                    self.data,
                    str(key),
                    "warning",
                    None,
                    f"unknown top-level key '{key}'{_suggest(str(key), _TOP_KEYS)}",
                )
        services, databases, groups = self._collect()
        yield from self._check_databases(databases)
        for group in groups:
            if isinstance(group, dict) and group.get("name"):
                keys = {
                    str(v.get("key")) for v in _items(group.get("envVars")) if isinstance(v, dict)
                }
                self.groups[str(group["name"])] = keys
        if not services:
            yield RenderFinding("error", "no services: declare the bot under 'services:'")
        names: set[str] = set()
        for index, service in enumerate(services):
            if not isinstance(service, dict):
                yield RenderFinding("error", f"services[{index}] is not a mapping")
                continue
            name = str(service.get("name") or f"services[{index}]")
            if name in names:
                yield self._at(service, "name", "error", name, f"duplicate service name '{name}'")
            names.add(name)
            yield from self._check_service(service, name)
        yield from self._check_bot_services([s for s in services if isinstance(s, dict)])

    def _collect(self) -> tuple[list[Any], list[Any], list[Any]]:
        # Services may sit at the top level or inside projects[].environments[].
        scopes = [self.data]
        for project in _items(self.data.get("projects")):
            if isinstance(project, dict):
                scopes += [e for e in _items(project.get("environments")) if isinstance(e, dict)]
        lists: dict[str, list[Any]] = {"services": [], "databases": [], "envVarGroups": []}
        for scope in scopes:
            for key, items in lists.items():
                value = scope.get(key)
                items.extend(value if isinstance(value, list) else [])
        return lists["services"], lists["databases"], lists["envVarGroups"]

    def _at(
        self,
        mapping: Any,
        key: str | None,
        level: Literal["error", "warning"],
        service: str | None,
        message: str,
    ) -> RenderFinding:
        prefix = f"service '{service}': " if service else ""
        return RenderFinding(level, prefix + message, service, key, _line(mapping, key))

    def _check_databases(self, databases: list[Any]) -> Iterator[RenderFinding]:
        for index, db in enumerate(databases):
            if not isinstance(db, dict) or not db.get("name"):
                yield RenderFinding("error", f"databases[{index}] needs a 'name:'", line=_line(db))
                continue
            name = str(db["name"])
            self.databases.add(name)
            for key in map(str, db):
                if key not in _DATABASE_KEYS:
                    yield RenderFinding(
                        "error",
                        f"database '{name}': unknown key '{key}'{_suggest(key, _DATABASE_KEYS)}",
                        name,
                        key,
                        _line(db, key),
                    )

    def _check_service(self, svc: dict[Any, Any], name: str) -> Iterator[RenderFinding]:
        for key in map(str, svc):
            if key not in _SERVICE_KEYS:
                yield self._at(
                    svc, key, "error", name, f"unknown key '{key}'{_suggest(key, _SERVICE_KEYS)}"
                )
        kind = svc.get("type")
        if not _member(kind, _TYPES):
            yield self._at(
                svc,
                "type",
                "error",
                name,
                f"type: '{_shown(kind)}' is not one of {', '.join(sorted(_TYPES - {'redis'}))}",
            )
        elif kind == "redis":
            yield self._at(svc, "type", "warning", name, "type: redis is deprecated: use keyvalue")
        yield from self._check_runtime(svc, name)
        yield from self._check_root_dir(svc, name)
        yield from self._check_plan_and_deploy(svc, name, str(kind))
        yield from self._check_env_vars(svc, name)

    def _check_runtime(self, svc: dict[Any, Any], name: str) -> Iterator[RenderFinding]:
        if "env" in svc:
            yield self._at(
                svc,
                "env",
                "warning",
                name,
                "env: is deprecated for the runtime: use runtime: instead",
            )
        runtime = svc.get("runtime", svc.get("env"))
        key = "runtime" if "runtime" in svc else "env"
        if svc.get("type") in ("keyvalue", "redis"):
            return
        if runtime is not None and not _member(runtime, _RUNTIMES):
            yield self._at(
                svc,
                key,
                "error",
                name,
                f"{key}: '{_shown(runtime)}' is not one of {', '.join(sorted(_RUNTIMES))}",
            )
        if runtime is None and "image" not in svc:
            yield self._at(
                svc, "runtime", "error", name, "runtime: is missing (e.g. runtime: python)"
            )
        docker = runtime in ("docker", "image") or "image" in svc
        needed = ["buildCommand"] if runtime == "static" else ["buildCommand", "startCommand"]
        for key in needed if not docker else []:
            if not svc.get(key):
                yield self._at(
                    svc, key, "error", name, f"{key}: is missing (required without Docker)"
                )

    def _check_root_dir(self, svc: dict[Any, Any], name: str) -> Iterator[RenderFinding]:
        # Render: "Files outside your service's root directory are not available
        # to the service at build time or at runtime."
        if not svc.get("rootDir"):
            return
        for key in ("buildCommand", "startCommand", "preDeployCommand"):
            command = str(svc.get(key) or "")
            if _PARENT_PATH.search(command):
                yield self._at(
                    svc,
                    key,
                    "error",
                    name,
                    f"{key} reaches outside rootDir ('..'): files outside the root directory "
                    "are not available at build time or at runtime; install from a package "
                    "index or a git URL instead",
                )

    def _check_plan_and_deploy(
        self, svc: dict[Any, Any], name: str, kind: str
    ) -> Iterator[RenderFinding]:
        plan = svc.get("plan")
        if plan is not None and str(plan) not in _PLANS:
            yield self._at(
                svc,
                "plan",
                "error",
                name,
                f"plan: '{_shown(plan)}' is not a Render instance type"
                + _suggest(_shown(plan), _PLANS),
            )
        elif plan == "free" and kind in _NO_FREE:
            yield self._at(
                svc,
                "plan",
                "error",
                name,
                f"plan: free is not available for type: {kind}: use plan: starter",
            )
        if "autoDeploy" in svc:
            yield self._at(
                svc,
                "autoDeploy",
                "warning",
                name,
                "autoDeploy: is deprecated: use autoDeployTrigger: commit (or off)",
            )
        trigger = svc.get("autoDeployTrigger")
        # YAML 1.1 reads an unquoted `off` as false: accept it as 'off'.
        if "autoDeployTrigger" in svc and trigger is not False and not _member(trigger, _TRIGGERS):
            yield self._at(
                svc,
                "autoDeployTrigger",
                "error",
                name,
                f"autoDeployTrigger: '{_shown(trigger)}' is not one of commit, checksPass, off",
            )
        if "healthCheckPath" in svc and kind != "web":
            yield self._at(
                svc,
                "healthCheckPath",
                "warning",
                name,
                f"healthCheckPath: only applies to web services, not type: {kind}",
            )
        delay = svc.get("maxShutdownDelaySeconds")
        if "maxShutdownDelaySeconds" in svc and (
            not isinstance(delay, int) or isinstance(delay, bool) or not 1 <= delay <= 300
        ):
            yield self._at(
                svc,
                "maxShutdownDelaySeconds",
                "error",
                name,
                f"maxShutdownDelaySeconds: {_shown(delay)} must be a whole number 1..300",
            )

    def _check_env_vars(self, svc: dict[Any, Any], name: str) -> Iterator[RenderFinding]:
        env_vars = svc.get("envVars") or []
        if not isinstance(env_vars, list):
            yield self._at(svc, "envVars", "error", name, "envVars: must be a list")
            return
        seen: set[str] = set()
        for item in env_vars:
            if not isinstance(item, dict):
                yield self._at(svc, "envVars", "error", name, "envVars: item is not a mapping")
                continue
            for key in map(str, item):
                if key not in _ENV_KEYS:
                    yield self._at(
                        item,
                        key,
                        "error",
                        name,
                        f"envVars: unknown key '{key}'{_suggest(key, _ENV_KEYS)}",
                    )
            if "fromGroup" in item:
                if str(item["fromGroup"]) not in self.groups:
                    yield self._at(
                        item,
                        "fromGroup",
                        "warning",
                        name,
                        f"envVars: group '{_shown(item['fromGroup'])}' is not declared here;"
                        " its variables cannot be checked",
                    )
                continue
            var = str(item.get("key") or "")
            if not var:
                yield self._at(item, None, "error", name, "envVars: item has no 'key:'")
            elif var in seen:
                yield self._at(item, "key", "warning", name, f"envVars: '{var}' declared twice")
            seen.add(var)
            yield from self._check_from_database(item, name, var)

    def _check_from_database(self, item: Any, name: str, var: str) -> Iterator[RenderFinding]:
        ref = item.get("fromDatabase")
        if ref is None:
            return
        if not isinstance(ref, dict) or not _member(ref.get("name"), self.databases):
            target = ref.get("name") if isinstance(ref, dict) else ref
            yield self._at(
                item,
                "fromDatabase",
                "error",
                name,
                f"envVars: {var} fromDatabase '{_shown(target)}' is not declared under databases:",
            )
        elif not _member(ref.get("property"), _DB_PROPERTIES):
            yield self._at(
                ref,
                "property",
                "error",
                name,
                f"envVars: {var} fromDatabase property '{_shown(ref.get('property'))}' is not"
                f" one of {', '.join(sorted(_DB_PROPERTIES))}",
            )

    def _check_bot_services(self, services: list[dict[Any, Any]]) -> Iterator[RenderFinding]:
        bots = [s for s in services if _member(s.get("type"), _BOT_TYPES) and _looks_like_bot(s)]
        bots = bots or [s for s in services if s.get("type") == "worker"]
        for svc in bots:
            name = str(svc.get("name"))
            declared, unknown_group = self._declared(svc)
            for var in self.required if not unknown_group else ():
                names = TOKEN_VARS if var in TOKEN_VARS else (var,)
                if not declared & set(names):
                    alias = " (or its alias BOT_TOKEN)" if var in TOKEN_VARS else ""
                    yield self._at(
                        svc,
                        "envVars",
                        "error",
                        name,
                        f"envVars: {var}{alias} is required but not declared;"
                        f" add - key: {var} with sync: false",
                    )
            if _webhook_mode(declared):
                continue
            if svc.get("type") == "web" and not _binds_port(svc, declared):
                yield self._at(
                    svc,
                    "type",
                    "error",
                    name,
                    "type: web, but a polling bot never binds $PORT, so the deploy"
                    f' fails with "{PORT_SCAN_MESSAGE}" Use type: worker.',
                )
            yield from self._check_instances(svc, name)

    def _check_instances(self, svc: dict[Any, Any], name: str) -> Iterator[RenderFinding]:
        scaling = svc.get("scaling") if isinstance(svc.get("scaling"), dict) else {}
        count, key = svc.get("numInstances", 1), "numInstances"
        if isinstance(scaling, dict) and scaling.get("maxInstances") is not None:
            count, key = scaling["maxInstances"], "scaling"
        if isinstance(count, int) and count > 1 and not _has_lease(svc):
            yield self._at(
                svc,
                key,
                "error",
                name,
                f"{key}: {count} instances would poll at once (409 Conflict) and there"
                " is no lease: set SAFE_POLLING_LEASE (postgres/redis) or take"
                " DATABASE_URL fromDatabase, or use 1 instance",
            )

    def _declared(self, svc: dict[Any, Any]) -> tuple[set[str], bool]:
        declared: set[str] = set()
        unknown_group = False
        for item in _env_items(svc):
            if "fromGroup" in item:
                group = self.groups.get(str(item["fromGroup"]))
                unknown_group |= group is None
                declared |= group or set()
            elif item.get("key"):
                declared.add(str(item["key"]))
        return declared, unknown_group


def _member(value: Any, allowed: Collection[Any]) -> bool:
    """Whether a YAML value is one of *allowed*; a list or mapping never is (unhashable)."""
    return isinstance(value, Hashable) and value in allowed


def _items(value: Any) -> list[Any]:
    """A YAML list; anything else written where a list belongs counts as empty."""
    return value if isinstance(value, list) else []


def _shown(value: Any) -> str:
    """A YAML value for a message: short, whatever its type or size."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_PARENT_PATH = re.compile(r"(?<![\w.])\.\.(/|$|\[|\s|\"|')")


def _env_items(svc: dict[Any, Any]) -> list[dict[Any, Any]]:
    items = svc.get("envVars") or []
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _looks_like_bot(svc: dict[Any, Any]) -> bool:
    keys = {str(i.get("key")) for i in _env_items(svc)}
    text = f"{svc.get('name', '')} {svc.get('startCommand', '')}".lower()
    return bool(keys & set(TOKEN_VARS)) or "bot" in text


def _webhook_mode(declared: set[str]) -> bool:
    return any("WEBHOOK" in var.upper() for var in declared)


def _binds_port(svc: dict[Any, Any], declared: set[str]) -> bool:
    command = f"{svc.get('startCommand', '')} {svc.get('dockerCommand', '')}"
    return bool(_BINDS_PORT.search(command)) or bool(
        declared & {"PORT", "SAFE_POLLING_HEALTH_PORT"}
    )


def _has_lease(svc: dict[Any, Any]) -> bool:
    for item in _env_items(svc):
        if (
            item.get("key") == "SAFE_POLLING_LEASE"
            and str(item.get("value", "")).lower() != "none"
        ):
            return True
        if item.get("key") == "DATABASE_URL" and isinstance(item.get("fromDatabase"), dict):
            return True
    return False
