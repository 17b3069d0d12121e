"""Strict parsing of settings from environment variables.

A malformed value stops start-up with a message that names the variable, instead of
silently falling back to a default that hides the operator's mistake.
"""

from __future__ import annotations

import builtins
import ipaddress
import os
from collections.abc import Mapping
from typing import overload

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# Methods named str, int, float, bool and list shadow the builtins inside the class, so its
# annotations spell them builtins.*.
class Env:
    """Typed accessors over a mapping of environment variables (``os.environ`` by default)."""

    def __init__(self, environ: Mapping[builtins.str, builtins.str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def _raw(self, name: builtins.str) -> builtins.str | None:
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def _fail(self, name: builtins.str, value: builtins.str,
              expected: builtins.str) -> ImproperlyConfigured:
        return ImproperlyConfigured(
            f"Environment variable {name}={value!r} is malformed: expected {expected}."
        )

    @overload
    def str(self, name: builtins.str, default: builtins.str, *,
            required: builtins.bool = False) -> builtins.str: ...

    @overload
    def str(self, name: builtins.str, default: None = None, *,
            required: builtins.bool = False) -> builtins.str | None: ...

    def str(self, name: builtins.str, default: builtins.str | None = None, *,
            required: builtins.bool = False) -> builtins.str | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise ImproperlyConfigured(f"Environment variable {name} is required.")
            return default
        return value

    def bool(self, name: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise self._fail(name, value, "one of 1/0, true/false, yes/no, on/off")

    def int(self, name: builtins.str, default: builtins.int, *,
            min_value: builtins.int | None = None) -> builtins.int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise self._fail(name, value, "a whole number") from None
        if min_value is not None and number < min_value:
            raise self._fail(name, value, f"a whole number of at least {min_value}")
        return number

    def float(self, name: builtins.str, default: builtins.float, *,
              min_value: builtins.float | None = None) -> builtins.float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self._fail(name, value, "a number") from None
        if min_value is not None and number < min_value:
            raise self._fail(name, value, f"a number of at least {min_value}")
        return number

    def list(self, name: builtins.str,
             default: builtins.list[builtins.str]) -> builtins.list[builtins.str]:
        value = self._raw(name)
        if value is None:
            return list(default)
        items = [item.strip() for item in value.split(",")]
        if any(not item for item in items):
            raise self._fail(name, value, "a comma-separated list without empty items")
        return items

    def addresses(self, name: builtins.str,
                  default: builtins.list[builtins.str]) -> builtins.list[builtins.str]:
        """A comma-separated list of IP addresses or networks (``10.0.0.1``, ``172.16.0.0/12``)."""
        items = self.list(name, default)
        try:
            return [str(ipaddress.ip_network(item, strict=False)) if "/" in item
                    else str(ipaddress.ip_address(item)) for item in items]
        except ValueError:
            raise self._fail(name, ",".join(items),
                             "IP addresses or networks separated by commas") from None

    def choice(self, name: builtins.str, default: builtins.str,
               choices: tuple[builtins.str, ...]) -> builtins.str:
        value = self._raw(name)
        if value is None:
            return default
        if value not in choices:
            raise self._fail(name, value, "one of " + ", ".join(choices))
        return value

    def url(self, name: builtins.str, schemes: tuple[builtins.str, ...]) -> builtins.str | None:
        value = self._raw(name)
        if value is None:
            return None
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in schemes or not rest:
            raise self._fail(name, value, "a URL starting with " + " or ".join(
                f"{s}://" for s in schemes))
        return value
