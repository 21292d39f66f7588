"""Sealed plan links as the pages use them: which fields a link carries, opening one
(404/410 for a bad or expired one) and making one (:mod:`planner.pages.privacy` seals)."""

from __future__ import annotations

from flask import abort
from flask import g
from flask import request
from werkzeug.datastructures import MultiDict

from planner.pages import forms
from planner.pages import privacy

#: Fields a sealed plan link carries: the profile's and the week.
LINK_FIELDS = (*forms.FORM_FIELDS, *forms.PLAN_FIELDS)


def open_link(sealed: str) -> MultiDict:
    """The answers sealed in a link, kept in ``g`` for the links the page makes;
    404 for a link this server did not make, 410 for an expired one."""
    try:
        args = privacy.open_pairs(sealed)
    except privacy.BadLink as e:
        if e.expired:
            abort(410, "This link has expired. Make the plan again from the form.")
        abort(404, "This link is not valid. Make the plan again from the form.")
    g.plan_args = args
    return args


def current_args() -> MultiDict:
    """The answers behind this request: a sealed link's, else the query string's."""
    return g.plan_args if "plan_args" in g else request.args


def seal_args(args: MultiDict, keep=LINK_FIELDS, **replace) -> str:
    """A sealed link token of the ``keep`` fields of ``args``, with ``replace`` set."""
    pairs = [(k, v) for k, v in args.items(multi=True) if k in keep and k not in replace]
    pairs += [(k, v) for k, v in replace.items() if v]
    return privacy.seal_pairs(pairs)
