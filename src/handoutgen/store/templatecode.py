"""Compiled templates, kept between processes.

Compiling the templates (Jinja's parser and code generator) was the largest
part of a one-off ``handoutgen render`` after WeasyPrint itself: about a
tenth. Jinja can keep the compiled code (a :class:`jinja2.BytecodeCache`);
its bucket checks the template's source checksum and Jinja's own version, so
an edited template is compiled again, and the cache keys every entry by
handoutgen's code (cache.py), which sets the sandbox, escaping and extensions
the code was compiled under.

The entry is marshalled Python code: loading it runs code, exactly like the
pickled library (librarycache.py). So it lives only in the private cache,
every entry authenticated by its HMAC: whoever could forge one could already
run code as this user. The sandbox is not weakened: its checks are calls in
the compiled code itself.
"""

from __future__ import annotations

import logging

import jinja2

from handoutgen.store.cache import open_cache

log = logging.getLogger("handoutgen")

KIND = "templates"


class TemplateCode(jinja2.BytecodeCache):
    """Jinja's compiled templates in the private, authenticated cache."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        store = open_cache()
        if store is None:
            return
        data = store.get(KIND, bucket.key)
        if data is not None:
            # Another source checksum or Jinja version: the bucket stays empty
            # and the template is compiled (and stored) again.
            bucket.bytecode_from_string(data)

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        store = open_cache()
        if store is None:
            return
        try:
            store.put(KIND, bucket.key, bucket.bytecode_to_string())
        except OSError as exc:  # a full or read-only disk only costs speed
            log.debug("compiled template not cached (%s)", exc)


CODE = TemplateCode()
