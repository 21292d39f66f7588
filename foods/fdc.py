"""USDA FoodData Central (FDC) importer: fetch foods and turn them into table rows.

The module is split the way network code is split everywhere in this project:

- ``get_food``, ``get_foods`` and ``search_foods`` are the only functions that
  touch the network. Each takes an optional ``requests.Session`` and optional
  ``base_url``/``api_key`` overrides; the environment gives the defaults
  (``B12_FDC_API_URL``, ``B12_FDC_API_KEY``).
- ``parse_food`` and ``parse_search`` are pure: JSON in, plain values out.
  ``parse_food`` returns one row of the composition table as text cells, in the
  columns of :data:`foods.loader.TABLE_COLUMNS`, ready for
  :func:`foods.loader.validate_frame`.

Vitamin B12 is FDC nutrient number ``418`` (nutrient id 1178), reported per
100 g of food for every data type (Branded foods too: FDC converts the label's
per-serving value to per 100 g). Food-detail responses nest it as
``{"nutrient": {"number": "418", "unitName": "µg"}, "amount": 0.45}``; search
results give it flat as ``{"nutrientNumber": "418", "value": 0.45, "unitName":
"UG"}``. Both are read.

Every answer is bounded: at most :data:`MAX_RESPONSE_BYTES` of body is read
(streamed, and reading stops there), and each request has a total deadline
(``deadline_s``, :data:`DEFAULT_DEADLINE_S`) besides the per-read timeouts, so
a server that trickles its body cannot hold the importer. Every JSON answer is
checked against the shapes below (pydantic) before anything reads it; an
answer of another shape is one :class:`FdcBadResponse` naming the field
(``foodNutrients[0] should be an object, not 'x'``). Booleans are not numbers.

Every failure is an :class:`FdcError`; HTTP refusals (4xx) are also
``requests.HTTPError`` carrying the response.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import re
import time
import unicodedata
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import Annotated
from typing import Any
from typing import NamedTuple
from typing import TypedDict
from typing import Unpack

import requests
import urllib3
from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import ValidationError
from pydantic.functional_validators import PlainValidator
from pydantic_core import ErrorDetails

from foods.loader import TABLE_COLUMNS
from foods.loader import load_groups
from planner.domain.model import ALLERGENS
from planner.domain.model import DIETS
from planner.domain.model import MEALS

# --- Configuration -----------------------------------------------------------

ENV_API_URL = "B12_FDC_API_URL"
ENV_API_KEY = "B12_FDC_API_KEY"
DEFAULT_API_URL = "https://api.nal.usda.gov/fdc"
DEFAULT_API_KEY = "DEMO_KEY"
API_KEY_SIGNUP = "https://fdc.nal.usda.gov/api-key-signup"

DEFAULT_TIMEOUT_S = (5.0, 20.0)  # (connect, read) [s]
DEFAULT_DEADLINE_S = 60.0  # whole exchange, headers and body [s]
MAX_RESPONSE_BYTES = 20 * 1024 * 1024  # largest body read [bytes]; FDC's are < 1 MB
READ_CHUNK_BYTES = 64 * 1024
MAX_IDS_PER_REQUEST = 20  # FDC's limit for /v1/foods

B12_NUTRIENT_NUMBER = "418"
B12_NUTRIENT_ID = 1178

# --- Errors ------------------------------------------------------------------


class FdcError(Exception):
    """Any failure of the FoodData Central importer."""


class FdcUnavailable(FdcError):
    """FDC could not be reached, timed out, or kept failing (5xx) after retries."""


class FdcBadResponse(FdcError):
    """FDC answered, but not with the JSON shape this module reads."""


class FdcHTTPError(FdcError, requests.HTTPError):
    """FDC refused the request (4xx); ``response`` holds the HTTP response."""


class FdcNotFound(FdcHTTPError):
    """FDC has no food with the requested id (404)."""


class FdcAuthError(FdcHTTPError):
    """FDC rejected the API key (401/403)."""


class FdcRateLimited(FdcHTTPError):
    """FDC kept answering 429 Too Many Requests after the retries."""


class FdcNotImportable(FdcError):
    """A food that FDC returned cannot become a table row (no B12 value, no group)."""


# --- Retry policy ------------------------------------------------------------


@dataclass(frozen=True)
class Retry:
    """How often and how patiently to retry 429 and 5xx answers.

    ``tries`` counts every attempt, the first included. The wait before try
    ``n + 1`` is ``backoff_s * 2 ** (n - 1)`` [s], or the server's
    ``Retry-After`` [s] on a 429, and never more than ``max_wait_s`` [s].
    ``sleep`` is injectable so tests can record waits instead of waiting.
    """

    tries: int = 4
    backoff_s: float = 1.0
    max_wait_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep

    def wait_s(self, attempt: int, retry_after: str | None = None) -> float:
        """Seconds to wait after failed ``attempt`` (1-based) [s]."""
        wanted = _retry_after_s(retry_after)
        if wanted is None:
            wanted = self.backoff_s * 2 ** (attempt - 1)
        return min(max(wanted, 0.0), self.max_wait_s)


DEFAULT_RETRY = Retry()


def _retry_after_s(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds from now [s]."""
    if not value:
        return None
    value = value.strip()
    with contextlib.suppress(ValueError):
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


# --- Network: get_* ----------------------------------------------------------


def api_url(base_url: str | None = None) -> str:
    """The API root: ``base_url``, else ``$B12_FDC_API_URL``, else USDA's."""
    return (base_url or os.environ.get(ENV_API_URL) or DEFAULT_API_URL).rstrip("/")


def api_key(key: str | None = None) -> str:
    """The API key: ``key``, else ``$B12_FDC_API_KEY``, else ``DEMO_KEY``."""
    return key or os.environ.get(ENV_API_KEY) or DEFAULT_API_KEY


class Connection(TypedDict, total=False):
    """How :func:`get_food`, :func:`get_foods` and :func:`search_foods` reach FDC,
    all optional: ``session`` (a new one per call when absent), ``base_url`` and
    ``api_key`` (see :func:`api_url`, :func:`api_key`), ``timeout`` (connect,
    read) [s], ``retry``, ``deadline_s`` (the most one request may take in all
    [s]) and ``max_bytes`` (the largest body read)."""

    session: requests.Session | None
    base_url: str | None
    api_key: str | None
    timeout: tuple[float, float]
    retry: Retry
    deadline_s: float
    max_bytes: int


def get_food(
    fdc_id: int,
    **conn: Unpack[Connection],
) -> dict[str, Any]:
    """Details of one food (``GET /v1/food/{fdc_id}``), as FDC's JSON object.

    ``timeout`` is (connect, read) [s], ``deadline_s`` the most one request may
    take in all [s], ``max_bytes`` the largest body read. Raises
    :class:`FdcNotFound` when FDC has no such food, :class:`FdcBadResponse`
    when the answer is not a food of the shape :class:`FoodShape` describes,
    and another :class:`FdcError` on any other failure.
    """
    fdc_id = int(fdc_id)
    data = _call(
        "GET", f"/v1/food/{fdc_id}", conn,
        not_found=f"FoodData Central has no food with id {fdc_id}",
    )
    return check_food(_expect(data, dict, "a food object"))


def get_foods(
    fdc_ids: Iterable[int],
    **conn: Unpack[Connection],
) -> list[dict[str, Any]]:
    """Details of several foods (``POST /v1/foods``), in the order of ``fdc_ids``.

    Duplicate ids are fetched once. FDC silently leaves out ids it does not
    know; this raises :class:`FdcNotFound` naming them instead.
    """
    wanted = list(dict.fromkeys(int(i) for i in fdc_ids))
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), MAX_IDS_PER_REQUEST):
        chunk = wanted[start:start + MAX_IDS_PER_REQUEST]
        data = _call(
            "POST", "/v1/foods", conn, json_body={"fdcIds": chunk})
        for food in _expect(data, list, "a list of foods"):
            food = check_food(_expect(food, dict, "a food object"))
            found[food["fdcId"]] = food
    missing = [i for i in wanted if i not in found]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        ids = ", ".join(map(str, missing))
        raise FdcNotFound(f"FoodData Central has no food with id{plural} {ids}")
    return [found[i] for i in wanted]


def search_foods(
    query: str,
    page_size: int = 5,
    **conn: Unpack[Connection],
) -> dict[str, Any]:
    """The first page of a keyword search (``GET /v1/foods/search``), as FDC's JSON.

    ``page_size`` is the number of foods asked for (FDC allows 1 to 200).
    """
    data = _call(
        "GET", "/v1/foods/search", conn,
        params={"query": query, "pageSize": int(page_size)},
    )
    return check_search(_expect(data, dict, "a search result object"))


def _call(method: str, path: str, conn: Connection, *,
          params: dict[str, Any] | None = None, json_body: Any = None,
          not_found: str | None = None) -> Any:
    """Send one API request, retrying 429 and 5xx; return the decoded JSON body."""
    url = api_url(conn.get("base_url")) + path  # named in errors; the key never is
    key = api_key(conn.get("api_key"))
    session = conn.get("session")
    timeout = conn.get("timeout", DEFAULT_TIMEOUT_S)
    retry = conn.get("retry", DEFAULT_RETRY)
    deadline_s = conn.get("deadline_s", DEFAULT_DEADLINE_S)
    max_bytes = conn.get("max_bytes", MAX_RESPONSE_BYTES)
    query = {**(params or {}), "api_key": key}
    http = requests.Session() if session is None else session
    owned = http if session is None else None
    try:
        tries = max(1, retry.tries)
        for attempt in range(1, tries + 1):
            response = _send(http, method, url, query, json_body, timeout, key,
                             deadline_s, max_bytes)
            if not _is_retryable(response.status_code) or attempt == tries:
                break
            retry.sleep(retry.wait_s(attempt, response.headers.get("Retry-After")))
        return _decode(response, url, attempt, not_found)
    finally:
        if owned is not None:
            owned.close()


def _send(http: requests.Session, method: str, url: str, query: dict[str, Any],
          json_body: Any, timeout: tuple[float, float], key: str,
          deadline_s: float = DEFAULT_DEADLINE_S,
          max_bytes: int = MAX_RESPONSE_BYTES) -> requests.Response:
    """One HTTP exchange, its body read (at most ``max_bytes``) within ``deadline_s``;
    network failures become :class:`FdcUnavailable`."""
    connect_s, read_s = timeout
    deadline = time.monotonic() + deadline_s
    try:
        response = http.request(method, url, params=query, json=json_body, stream=True,
                                timeout=(connect_s, min(read_s, deadline_s)))
    except requests.ConnectTimeout:
        raise FdcUnavailable(
            f"Cannot reach FoodData Central at {url}: no connection within "
            f"{connect_s:g} s; check the network and {ENV_API_URL}") from None
    except requests.Timeout:
        raise FdcUnavailable(
            f"FoodData Central at {url} did not answer within "
            f"{min(read_s, deadline_s):g} s; try again later") from None
    except requests.ConnectionError as e:
        raise FdcUnavailable(
            f"Cannot reach FoodData Central at {url} ({_reason(e)}); check the "
            f"network and {ENV_API_URL}") from None
    except requests.RequestException as e:
        said = str(e).replace(key, "***") if key else str(e)
        raise FdcUnavailable(
            f"Cannot send a request to FoodData Central at {url} ({said}); check "
            f"{ENV_API_URL}") from None
    try:
        response._content = _read_body(response, url, deadline, deadline_s, read_s,
                                       max_bytes)
    finally:
        response.close()
    return response


def _read_body(response: requests.Response, url: str, deadline: float,
               deadline_s: float, read_s: float, max_bytes: int) -> bytes:
    """The body, read in chunks: stops past ``max_bytes`` or at ``deadline``."""
    declared = response.headers.get("Content-Length", "").strip()
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(url, max_bytes)
    late = FdcUnavailable(f"FoodData Central at {url} did not send its whole answer "
                          f"within {deadline_s:g} s; try again later")
    raw = response.raw
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise late
        _set_read_timeout(raw, min(read_s, remaining))
        try:
            chunk = raw.read1(READ_CHUNK_BYTES, decode_content=True)
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            raise (late if time.monotonic() >= deadline - 0.05 else FdcUnavailable(
                f"FoodData Central at {url} stopped sending for {read_s:g} s; "
                "try again later")) from None
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise FdcUnavailable(f"FoodData Central at {url} broke off its answer "
                                 f"({type(e).__name__}); try again later") from None
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(url, max_bytes)
        chunks.append(chunk)


def _too_large(url: str, max_bytes: int) -> FdcBadResponse:
    return FdcBadResponse(f"FoodData Central at {url} sent more than "
                          f"{max_bytes / 2**20:g} MB; stopped reading (a food is far smaller)")


def _set_read_timeout(raw: Any, seconds: float) -> None:
    """Make the next socket read of a streamed urllib3 response wait at most ``seconds``."""
    connection = getattr(raw, "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:  # the socket is reached through http.client's reader otherwise
        sock = getattr(getattr(getattr(getattr(raw, "_fp", None), "fp", None), "raw", None),
                       "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.settimeout(max(seconds, 0.001))


def _reason(error: Exception) -> str:
    """The operating system's words for a connection failure ("Connection refused")."""
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(error))
    return match.group(1).strip() if match else "connection failed"


def _is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _decode(response: requests.Response, url: str, tries: int,
            not_found: str | None) -> Any:
    """The JSON body of a successful answer, or the matching :class:`FdcError`."""
    status = response.status_code
    if status < 300:
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:80].replace("\n", " ")
            raise FdcBadResponse(
                f"FoodData Central at {url} sent a body that is not JSON: {snippet!r}"
            ) from None
    said = _provider_message(response)
    if status >= 500:
        raise FdcUnavailable(
            f"FoodData Central at {url} answered HTTP {status} ({said}) on each of "
            f"{tries} tries; try again later")
    error, message = _http_error(status, url, said, not_found)
    raise error(message, response=response)


def _http_error(status: int, url: str, said: str,
                not_found: str | None) -> tuple[type[FdcHTTPError], str]:
    """The error class and message for a 4xx ``status``."""
    if status == 404:
        return FdcNotFound, not_found or f"FoodData Central has nothing at {url}"
    if status in (401, 403):
        return FdcAuthError, (
            f"FoodData Central refused the API key (HTTP {status}: {said}); set "
            f"{ENV_API_KEY} to a valid key (free at {API_KEY_SIGNUP})")
    if status == 429:
        return FdcRateLimited, (
            f"FoodData Central's rate limit was hit (HTTP 429: {said}); wait, or set "
            f"{ENV_API_KEY} to your own key (DEMO_KEY allows only a few requests)")
    return FdcHTTPError, (
        f"FoodData Central refused the request to {url} (HTTP {status}: {said})")


def _provider_message(response: requests.Response) -> str:
    """FDC's own explanation of an error, from its JSON or text body."""
    with contextlib.suppress(ValueError):
        body = response.json()
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and error.get("message"):
                return str(error["message"])
            for field in ("message", "error"):
                value = body.get(field)
                if isinstance(value, str) and value:
                    return value
    text = response.text.strip().replace("\n", " ")[:120]
    return text or response.reason or "no explanation given"


def _expect(data: Any, kind: type, what: str) -> Any:
    if not isinstance(data, kind):
        raise FdcBadResponse(
            f"FoodData Central sent {type(data).__name__} where {what} was expected"
        )
    return data


# --- Shapes: what an answer must look like before it is read ---------------------


def _only(kinds: type | tuple[type, ...], words: str) -> Callable[[Any], Any]:
    """A field validator that lets through values of ``kinds`` (never a JSON
    true or false) and otherwise says what the field should be."""

    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise ValueError(f"should be {words}, not {_shown(value)}")
        return value

    return check


_number = _only((int, float), "a number")
_text = _only(str, "text")
# a nutrient number or NDB number: FDC writes "418", sometimes 418
_code = _only((str, int), "a number or text")
_whole = _only(int, "a whole number")


def _category_value(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        _text(value.get("description", ""))
        return value
    raise ValueError(f"should be text or an object, not {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    text = "null" if value is None else (str(value).lower() if isinstance(value, bool)
                                         else repr(value))
    return text if len(text) <= 40 else text[:37] + "..."


Number = Annotated[float | int, PlainValidator(_number)]
Text = Annotated[str, PlainValidator(_text)]
Code = Annotated[str | int, PlainValidator(_code)]
Whole = Annotated[int, PlainValidator(_whole)]


class _Shape(BaseModel):
    """Fields this module reads must have these types; other fields are let through."""

    model_config = ConfigDict(extra="allow")


class NutrientShape(_Shape):
    id: Whole | None = None
    number: Code | None = None
    unitName: Text | None = None  # noqa: N815 (FDC's spelling)


class FoodNutrientShape(_Shape):
    nutrient: NutrientShape | None = None
    nutrientId: Whole | None = None  # noqa: N815
    nutrientNumber: Code | None = None  # noqa: N815
    number: Code | None = None
    amount: Number | None = None
    value: Number | None = None
    unitName: Text | None = None  # noqa: N815


class MeasureUnitShape(_Shape):
    name: Text | None = None


class FoodPortionShape(_Shape):
    sequenceNumber: Number | None = None  # noqa: N815
    gramWeight: Number | None = None  # noqa: N815
    amount: Number | None = None
    portionDescription: Text | None = None  # noqa: N815
    modifier: Code | None = None
    measureUnit: MeasureUnitShape | None = None  # noqa: N815


class WweiaShape(_Shape):
    wweiaFoodCategoryDescription: Text | None = None  # noqa: N815


class FoodShape(_Shape):
    """A food as ``/v1/food/{id}``, ``/v1/foods`` and a search hit give it."""

    fdcId: Whole  # noqa: N815
    description: Text | None = None
    dataType: Text | None = None  # noqa: N815
    foodNutrients: list[FoodNutrientShape] | None = None  # noqa: N815
    foodPortions: list[FoodPortionShape] | None = None  # noqa: N815
    foodCategory: Annotated[Any, PlainValidator(_category_value)] = None  # noqa: N815
    wweiaFoodCategory: WweiaShape | None = None  # noqa: N815
    brandedFoodCategory: Text | None = None  # noqa: N815
    servingSize: Number | None = None  # noqa: N815
    servingSizeUnit: Text | None = None  # noqa: N815
    householdServingFullText: Text | None = None  # noqa: N815
    ingredients: Text | None = None
    brandName: Text | None = None  # noqa: N815
    brandOwner: Text | None = None  # noqa: N815
    publicationDate: Text | None = None  # noqa: N815
    publishedDate: Text | None = None  # noqa: N815
    ndbNumber: Code | None = None  # noqa: N815


class SearchShape(_Shape):
    foods: list[FoodShape]


def check_food(data: Any) -> dict[str, Any]:
    """``data`` unchanged if it is a food of :class:`FoodShape`, else :class:`FdcBadResponse`."""
    return _check(FoodShape, data, "a food")


def check_search(data: Any) -> dict[str, Any]:
    """``data`` unchanged if it is a search answer of :class:`SearchShape`."""
    return _check(SearchShape, data, "a search answer")


def _check(shape: type[BaseModel], data: Any, what: str) -> dict[str, Any]:
    try:
        shape.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False)
        first = errors[0]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}"
                        for part in first["loc"]).lstrip(".")
        message = _error_words(first)
        food = data.get("fdcId") if isinstance(data, dict) else None
        which = f" {food}" if isinstance(food, int) and not isinstance(food, bool) else ""
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise FdcBadResponse(
            f"FoodData Central sent {what}{which} of a shape this importer cannot read: "
            f"{where or 'the answer'} {message}{more}") from None
    if not isinstance(data, dict):  # a shape validates objects only; JSON gives dicts
        raise FdcBadResponse(f"FoodData Central sent {what} that is not an object")
    return data


def _error_words(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "missing":
        return "is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"should be an object, not {_shown(error.get('input'))}"
    if kind == "list_type":
        return f"should be a list, not {_shown(error.get('input'))}"
    return str(error["msg"])


# --- Pure: parse_* -----------------------------------------------------------


def parse_search(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Summaries of a search answer: ``[{fdc_id, description, data_type, brand_owner}]``.

    ``brand_owner`` is ``None`` for foods that are not Branded.
    """
    foods = data.get("foods") if isinstance(data, dict) else None
    if not isinstance(foods, list):
        raise FdcBadResponse("FoodData Central search answer has no 'foods' list")
    check_search(data)
    summaries = []
    for food in foods:
        try:
            fdc_id = int(food["fdcId"])
        except (KeyError, TypeError, ValueError):
            raise FdcBadResponse("a search result has no numeric 'fdcId'") from None
        summaries.append({
            "fdc_id": fdc_id,
            "description": str(food.get("description") or ""),
            "data_type": str(food.get("dataType") or ""),
            "brand_owner": food.get("brandOwner") or None,
        })
    return summaries


def parse_food(
    data: dict[str, Any],
    *,
    group: str | None = None,
    meals: Iterable[str] | None = None,
    diets: Iterable[str] | None = None,
    allergens: Iterable[str] | None = None,
) -> dict[str, str]:
    """One FDC food as a row of the composition table (text cells, in table columns).

    ``b12_ug_per_100g`` is B12 [µg per 100 g] as FDC reports it; ``serving_g``
    [g] comes from the first usable portion (or a Branded food's serving size;
    millilitres count as grams). ``group`` is guessed from FDC's food category
    and description unless given; ``meals``, ``diets`` and ``allergens`` default
    from the group (allergens also from words in the description and
    ingredients) unless given. Raises :class:`FdcNotImportable` when FDC gives no
    B12 value or no group can be guessed, and :class:`FdcBadResponse` when
    ``data`` is not of the shape :class:`FoodShape` describes.
    """
    fdc_id = _fdc_id(data)
    check_food(data)
    description = str(data.get("description") or "").strip()
    category = _category(data)
    b12 = b12_ug_per_100g(data)
    if b12 is None:
        raise FdcNotImportable(
            f"FoodData Central gives no vitamin B12 value (nutrient 418) for food "
            f"{fdc_id} ({description!r}); it cannot be added without one"
        )
    group = group or guess_group(category, description)
    groups = load_groups()
    if group not in groups:
        raise FdcNotImportable(
            f"Cannot tell the food group of FoodData Central food {fdc_id} "
            f"({description!r}, category {category or 'none'!r}); choose one with "
            f"--group: {', '.join(groups)}"
        )
    serving = serving_of(data)
    found_allergens = allergens_in(description, str(data.get("ingredients") or ""))
    plant_based = "vegan" in groups[group]["diets"]
    row = {
        "food_id": food_id_for(description, fdc_id),
        "name": readable_name(description, _brand(data)),
        "group": group,
        "b12_ug_per_100g": _number_text(b12),
        "serving_g": _number_text(serving.grams),
        "serving_label": serving.label,
        "meals": _join(meals if meals is not None else GROUP_MEALS[group], MEALS),
        "diets": _join(diets if diets is not None
                       else _default_diets(groups[group]["diets"], found_allergens),
                       DIETS),
        "allergens": _join(allergens if allergens is not None
                           else GROUP_ALLERGENS.get(group, frozenset()) | found_allergens,
                           ALLERGENS),
        "fortified": _bool_text(is_fortified(b12, description, plant_based
                                             and groups[group]["counts_as_source"])),
        "source": f"fdc:{fdc_id}",
        "evidence": EVIDENCE_BY_DATA_TYPE.get(str(data.get("dataType")), "estimated"),
        "notes": _notes(data, category, serving),
    }
    # FoodData Central describes foods sold in the US; a food with nothing
    # added is the same everywhere.
    row["markets"] = "us" if row["fortified"] == "true" else "any"
    return {column: row[column] for column in TABLE_COLUMNS}


def same_food_sources(data: dict[str, Any]) -> frozenset[str]:
    """Every table ``source`` that names this very FDC record.

    Always ``fdc:<id>``; for an SR Legacy food also ``usda-sr28:<ndb>`` (5-digit
    NDB number), the spelling the shipped table uses for the same SR28 row.
    """
    sources = {f"fdc:{_fdc_id(data)}"}
    ndb = str(data.get("ndbNumber") or "")
    if data.get("dataType") == "SR Legacy" and ndb.isdigit():
        sources.add(f"usda-sr28:{int(ndb):05d}")
    return frozenset(sources)


def _fdc_id(data: Any) -> int:
    try:
        return int(data["fdcId"])
    except (KeyError, TypeError, ValueError):
        raise FdcBadResponse("a FoodData Central food has no numeric 'fdcId'") from None


# B12 ------------------------------------------------------------------------

UG_PER_UNIT = {"µg": 1.0, "μg": 1.0, "ug": 1.0, "mcg": 1.0, "mg": 1e3, "g": 1e6}


def b12_ug_per_100g(data: dict[str, Any]) -> float | None:
    """Vitamin B12 [µg per 100 g] from ``foodNutrients`` (nested or flat), or None."""
    for entry in data.get("foodNutrients") or ():
        nested = entry.get("nutrient") or {}
        number = str(nested.get("number") or entry.get("nutrientNumber")
                     or entry.get("number") or "")
        nutrient_id = nested.get("id") or entry.get("nutrientId")
        if number != B12_NUTRIENT_NUMBER and nutrient_id != B12_NUTRIENT_ID:
            continue
        amount = entry.get("amount", entry.get("value"))
        if amount is None:
            return None
        unit = str(nested.get("unitName") or entry.get("unitName") or "µg")
        factor = UG_PER_UNIT.get(unit.strip().lower())
        if factor is None:
            raise FdcBadResponse(f"vitamin B12 is given in an unknown unit {unit!r}")
        if isinstance(amount, bool):
            raise FdcBadResponse(f"vitamin B12 amount {_shown(amount)} is not a number")
        try:
            return float(amount) * factor
        except (TypeError, ValueError):
            raise FdcBadResponse(f"vitamin B12 amount {amount!r} is not a number") from None
    return None


# Servings -------------------------------------------------------------------


class Serving(NamedTuple):
    """One household serving: ``grams`` [g] and a label such as "1 cup (244 g)"."""

    grams: float
    label: str
    note: str = ""


# Branded serving units, as FDC spells them: (grams per unit, unit as shown).
SERVING_UNITS = {
    "g": (1.0, "g"), "grm": (1.0, "g"),
    "ml": (1.0, "ml"), "mlt": (1.0, "ml"),  # water-like density, 1 g per ml
}
NOT_A_PORTION = {"quantity not specified", ""}
NO_UNIT = {"undetermined", ""}
FALLBACK_SERVING = Serving(100.0, "100 g", "no portion given by FDC; 100 g used")


def serving_of(data: dict[str, Any]) -> Serving:
    """The serving of a Branded food's label, else its first portion, else 100 g."""
    if data.get("dataType") == "Branded":
        branded = _branded_serving(data)
        if branded:
            return branded
    return _portion_serving(data.get("foodPortions") or ()) or FALLBACK_SERVING


def _branded_serving(data: dict[str, Any]) -> Serving | None:
    size = _positive(data.get("servingSize"))
    unit = str(data.get("servingSizeUnit") or "").strip().lower()
    if size is None or unit not in SERVING_UNITS:
        return None
    grams_per_unit, shown = SERVING_UNITS[unit]
    household = str(data.get("householdServingFullText") or "").strip() or "1 serving"
    note = (f"serving {size:g} ml counted as {size * grams_per_unit:g} g (1 g per ml)"
            if shown == "ml" else "")
    return Serving(size * grams_per_unit, f"{household} ({size:g} {shown})", note)


def _portion_serving(portions: Iterable[dict[str, Any]]) -> Serving | None:
    """The first portion, in FDC's sequence order, that has a weight and a name."""
    ordered = sorted(portions, key=lambda p: p.get("sequenceNumber") or 0)
    for portion in ordered:
        grams = _positive(portion.get("gramWeight"))
        text = _portion_text(portion)
        if grams is not None and text:
            return Serving(grams, f"{text} ({grams:g} g)")
    return None


def _portion_text(portion: dict[str, Any]) -> str:
    """How FDC names a portion: "1 cup", "1 egg, large", a survey's description."""
    described = str(portion.get("portionDescription") or "").strip()
    if described.lower() not in NOT_A_PORTION:
        return described
    unit = str((portion.get("measureUnit") or {}).get("name") or "").strip()
    unit = "" if unit.lower() in NO_UNIT else unit
    modifier = str(portion.get("modifier") or "").strip()
    modifier = "" if modifier.isdigit() else modifier  # survey codes such as "10205"
    amount = _positive(portion.get("amount"))
    if not (unit or modifier):
        return ""
    words = f"{unit}, {modifier}" if unit and modifier else unit or modifier
    return f"{amount:g} {words}" if amount is not None else words


def _positive(value: Any) -> float | None:
    if isinstance(value, bool):  # true is not 1
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


# Groups ---------------------------------------------------------------------


class GroupRule(NamedTuple):
    """If the FDC category contains any of ``category`` and the description any
    of ``description`` (an empty tuple matches anything), the food is in
    ``group``; ``None`` means "do not guess". Words match at a word start,
    ignoring case."""

    group: str | None
    category: tuple[str, ...] = ()
    description: tuple[str, ...] = ()


SHELLFISH_WORDS = (
    "mollusks", "crustaceans", "clam", "mussel", "oyster", "scallop", "shrimp",
    "prawn", "crab", "lobster", "crayfish", "squid", "octopus", "abalone",
)
# Words that make a yogurt or a "milk" plant-based. Deliberately strict: a
# dairy food guessed as plant-based would be offered to vegans.
NON_DAIRY_WORDS = (
    "soy", "dairy-free", "dairy free", "non-dairy", "nondairy", "plant-based",
    "plant based", "vegan", "almondmilk", "oatmilk", "coconutmilk", "cashewmilk",
    "almond milk", "oat milk", "coconut milk", "cashew milk",
)
PLANT_DRINK_WORDS = (
    "soymilk", "soy milk", "soy drink", "soy beverage", "almondmilk", "almond milk",
    "almond beverage", "oatmilk", "oat milk", "oat drink", "oat beverage", "rice milk",
    "rice drink", "cashew milk", "hemp milk", "pea milk", "coconut milk beverage",
    "plant-based milk", "plant based milk",
)
MEAT_CATEGORIES = ("beef", "pork", "lamb", "veal", "game", "poultry", "chicken", "turkey")
ORGAN_WORDS = ("liver", "kidney", "heart", "variety meats", "giblets", "tongue")

# The first matching rule wins, so specific rules come before general ones.
GROUP_RULES: tuple[GroupRule, ...] = (
    GroupRule("nutritional_yeast", description=("nutritional yeast",)),
    GroupRule("yeast_extract", description=("yeast extract", "marmite", "vegemite")),
    # Categories of mixed or unclear foods: the user must choose (--group).
    GroupRule(None, ("cereal grains", "baby foods", "fast foods", "restaurant",
                     "meals, entrees", "soups, sauces", "baked products", "sweets",
                     "snacks", "fats and oils", "mixed dishes")),
    # Words in the description that settle the group in any other category.
    GroupRule("plant_yogurt", ("yogurt",), NON_DAIRY_WORDS),
    GroupRule("plant_yogurt", description=("soy yogurt", "plant-based yogurt",
                                           "vegan yogurt", "dairy-free yogurt")),
    GroupRule("plant_drink", description=PLANT_DRINK_WORDS),
    GroupRule("tofu", description=("tofu",)),
    GroupRule("vegan_spread", description=("vegan spread", "vegan butter",
                                           "plant butter", "plant-based butter")),
    GroupRule("meat_substitute", description=("meatless", "veggie burger", "meat analog",
                                              "meat substitute", "meat alternative",
                                              "meat extender", "vegetarian burger")),
    GroupRule("other_plant", description=("seaweed", "spirulina", "chlorella", "nori",
                                          "tempeh", "laver")),
    GroupRule("organ_meat", ("liver and organ",)),
    GroupRule("organ_meat", MEAT_CATEGORIES, ORGAN_WORDS),
    # SR Legacy and Foundation categories.
    GroupRule("egg", ("dairy and egg",), ("egg",)),
    GroupRule("cheese", ("dairy and egg",), ("cheese",)),
    GroupRule("yogurt", ("dairy and egg",), ("yogurt",)),
    GroupRule("milk", ("dairy and egg",)),
    GroupRule("shellfish", ("finfish and shellfish", "fish", "seafood"), SHELLFISH_WORDS),
    GroupRule("finfish", ("finfish and shellfish",)),
    GroupRule("game", ("lamb, veal",), ("veal",)),
    GroupRule("lamb", ("lamb",), ("lamb", "mutton")),
    GroupRule("game", ("lamb", "game")),
    GroupRule("processed_meat", ("sausages", "luncheon", "cold cuts", "bacon",
                                 "frankfurter", "pepperoni", "hot dog", "cured meats")),
    GroupRule("beef", ("beef",)),
    GroupRule("pork", ("pork",)),
    GroupRule("poultry", ("poultry", "chicken", "turkey")),
    GroupRule("cereal", ("cereal", "oatmeal")),
    GroupRule("other_plant", ("vegetables and vegetable", "fruits and fruit",
                              "nut and seed", "spices and herbs", "legumes and legume")),
    # Survey (WWEIA) and Branded categories.
    GroupRule("plant_drink", ("plant based milk", "milk substitute")),
    GroupRule("yogurt", ("yogurt",)),
    GroupRule("cheese", ("cheese",)),
    GroupRule("milk", ("milk",)),
    GroupRule("egg", ("egg",)),
    GroupRule("shellfish", ("shellfish",)),
    GroupRule("finfish", ("fish", "seafood")),
    GroupRule("meat_substitute", ("vegetarian", "meat alternative", "meat substitute")),
)


def guess_group(category: str, description: str) -> str | None:
    """The table group for an FDC category and description, or None if unsure."""
    for rule in GROUP_RULES:
        if _mentions(category, rule.category) and _mentions(description, rule.description):
            return rule.group
    return None


def _mentions(text: str, words: tuple[str, ...]) -> bool:
    """True when ``text`` has one of ``words`` at a word start (or ``words`` is empty)."""
    if not words:
        return True
    pattern = r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, words)) + ")"
    return re.search(pattern, text.lower()) is not None


def _category(data: dict[str, Any]) -> str:
    """FDC's food category, whichever of its spellings this data type uses."""
    category = data.get("foodCategory")
    if isinstance(category, dict):
        category = category.get("description")
    wweia = data.get("wweiaFoodCategory")
    if not category and isinstance(wweia, dict):
        category = wweia.get("wweiaFoodCategoryDescription")
    return str(category or data.get("brandedFoodCategory") or "").strip()


# Defaults by group ----------------------------------------------------------

# Meals a food of each group suits by default (override with --meals).
GROUP_MEALS: dict[str, frozenset[str]] = {
    group: frozenset(meals.split(";")) for group, meals in {
        "beef": "lunch;dinner", "lamb": "lunch;dinner", "pork": "lunch;dinner",
        "game": "lunch;dinner", "organ_meat": "lunch;dinner", "poultry": "lunch;dinner",
        "processed_meat": "breakfast;lunch;dinner", "finfish": "lunch;dinner",
        "shellfish": "lunch;dinner", "milk": "breakfast;snack",
        "yogurt": "breakfast;snack", "cheese": "breakfast;lunch;snack",
        "egg": "breakfast;lunch", "cereal": "breakfast",
        "plant_drink": "breakfast;snack", "nutritional_yeast": "lunch;dinner",
        "yeast_extract": "breakfast;snack", "meat_substitute": "lunch;dinner",
        "tofu": "lunch;dinner", "plant_yogurt": "breakfast;snack",
        "vegan_spread": "breakfast;snack", "other_plant": "lunch;dinner",
        # ordinary ingredient groups (foods/ingredients.csv, issue 13)
        "grain": "breakfast;lunch;dinner", "bread": "breakfast;lunch;snack",
        "legume": "lunch;dinner", "vegetable": "lunch;dinner", "fruit": "breakfast;snack",
        "juice": "breakfast;snack", "nut_seed": "breakfast;snack", "oil_fat": "lunch;dinner",
        "sweetener": "breakfast;snack", "condiment": "lunch;dinner", "snack": "snack",
        "drink": "breakfast;snack",
    }.items()
}

# Allergens assumed for each group (override with --allergens). Cautious on
# purpose: most cereals and meat substitutes contain gluten or soy.
GROUP_ALLERGENS: dict[str, frozenset[str]] = {
    group: frozenset(allergens.split(";")) for group, allergens in {
        "finfish": "fish", "shellfish": "shellfish", "milk": "milk", "yogurt": "milk",
        "cheese": "milk", "egg": "egg", "cereal": "gluten", "tofu": "soy",
        "yeast_extract": "gluten", "meat_substitute": "soy;gluten", "bread": "gluten",
    }.items()
}

# Allergens recognised in a description or an ingredient list.
ALLERGEN_PATTERNS = {
    "milk": r"\b(whey|casein|caseinate|lactose|butterfat)\b"
            r"|\b(whole|skim|nonfat|non-fat|lowfat|dry|dried|powdered) milk\b"
            r"|\bmilk (powder|solids|protein)",
    "egg": r"\beggs?\b|\begg (white|yolk)",
    "soy": r"\bsoy",
    "gluten": r"\b(wheat|barley|rye|spelt)|\bmalt\b",
    "tree_nut": r"\b(almond|cashew|hazelnut|walnut|pecan|pistachio|macadamia)",
    "peanut": r"\bpeanut",
    "sesame": r"\b(sesame|tahini)",
}
ANIMAL_ALLERGENS = frozenset({"milk", "egg"})  # their presence rules out vegan

EVIDENCE_BY_DATA_TYPE = {
    "Foundation": "measured",
    "SR Legacy": "measured",
    "Survey (FNDDS)": "measured",
    "Branded": "label",
}

FORTIFIED_PATTERN = re.compile(
    r"\bfortified\b|\benriched with (vitamin )?b-?12|\badded (vit\.? |vitamin )?b-?12",
    re.IGNORECASE,
)


def allergens_in(*texts: str) -> frozenset[str]:
    """Allergens named by words in the given texts (description, ingredients)."""
    joined = " ".join(texts).lower()
    return frozenset(a for a, pattern in ALLERGEN_PATTERNS.items()
                     if re.search(pattern, joined))


def _default_diets(group_diets: frozenset[str], allergens: frozenset[str]) -> frozenset[str]:
    return group_diets - {"vegan"} if allergens & ANIMAL_ALLERGENS else group_diets


def is_fortified(b12_ug_per_100g: float, description: str, plant_source: bool) -> bool:
    """True when a plant food that is counted as a source has B12 [µg/100 g]
    (plants have none of their own), or the description says it is fortified."""
    return (plant_source and b12_ug_per_100g > 0) or bool(
        FORTIFIED_PATTERN.search(description))


# Names, ids and notes ----------------------------------------------------------

SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "in", "of", "on", "or",
               "the", "to", "with", "w/"}
MAX_SLUG_CHARS = 48


def readable_name(description: str, brand: str = "") -> str:
    """The description in title case if FDC wrote it in capitals, plus the brand."""
    name = _title_if_shouting(description.strip())
    brand = _title_if_shouting(brand.strip())
    if brand and brand.lower() not in name.lower():
        name = f"{name} ({brand})"
    return name


def _title_if_shouting(text: str) -> str:
    if not text or text != text.upper():
        return text
    words = text.lower().split(" ")
    titled = [w if i and w in SMALL_WORDS else _capitalise(w) for i, w in enumerate(words)]
    return " ".join(titled)


def _capitalise(word: str) -> str:
    return re.sub(r"[a-z]", lambda m: m.group(0).upper(), word, count=1)


def food_id_for(description: str, fdc_id: int) -> str:
    """A stable table id: a slug of the description plus ``_fdc<id>``."""
    ascii_text = unicodedata.normalize("NFKD", description).encode("ascii", "ignore")
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.decode().lower()).strip("_")
    if len(slug) > MAX_SLUG_CHARS:
        slug = slug[:MAX_SLUG_CHARS].rsplit("_", 1)[0]
    return f"{slug}_fdc{fdc_id}" if slug else f"fdc{fdc_id}"


def _brand(data: dict[str, Any]) -> str:
    return str(data.get("brandName") or data.get("brandOwner") or "")


def _notes(data: dict[str, Any], category: str, serving: Serving) -> str:
    """Where the row came from: data type, publication date, category, brand."""
    data_type = str(data.get("dataType") or "unknown data type")
    parts = [f"FoodData Central {data_type}"]
    published = _iso_date(str(data.get("publicationDate") or data.get("publishedDate")
                              or ""))
    if published:
        parts[0] += f", published {published}"
    if category:
        parts.append(f"category: {category}")
    if data.get("brandOwner"):
        parts.append(f"brand owner: {data['brandOwner']}")
    if serving.note:
        parts.append(serving.note)
    return "; ".join(parts)


def _iso_date(text: str) -> str:
    """FDC's ``4/1/2019`` (or an ISO date) as ``2019-04-01``; other text unchanged."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text.strip())
    if match:
        month, day, year = (int(g) for g in match.groups())
        return f"{year:04d}-{month:02d}-{day:02d}"
    return text.strip()[:10]


# Text cells -------------------------------------------------------------------


def _join(words: Iterable[str], order: tuple[str, ...]) -> str:
    """Words as the table writes a list: ';'-separated, in vocabulary order."""
    words = set(words)
    known = [w for w in order if w in words]
    unknown = sorted(words - set(order))  # left for the loader to report
    return ";".join(known + unknown)


def _number_text(value: float) -> str:
    """A number as a short decimal: 244.0 -> "244", 0.45 -> "0.45"."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _bool_text(value: bool) -> str:
    return "true" if value else "false"
