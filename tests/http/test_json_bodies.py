"""Request bodies in JSON (services.http.wsgi.parse_json): the nesting limit holds at its
boundary however a body is read (counted, or scanned when it holds more brackets)."""
import json

import pytest

from services.http.wsgi import JSON_MAX_DEPTH, BadJson, parse_json


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_nesting_up_to_the_limit_is_read_and_one_level_more_is_refused():
    assert parse_json(nested(JSON_MAX_DEPTH)) == json.loads(nested(JSON_MAX_DEPTH))
    with pytest.raises(BadJson, match="nested deeper"):
        parse_json(nested(JSON_MAX_DEPTH + 1))


def test_brackets_beyond_the_limit_in_strings_and_siblings_do_not_count():
    siblings = b"[" + b",".join([b"[]"] * (JSON_MAX_DEPTH * 2)) + b"]"
    assert len(parse_json(siblings)) == JSON_MAX_DEPTH * 2
    in_strings = json.dumps({"a": "[{" * JSON_MAX_DEPTH, "b": [["x"]]}).encode()
    assert parse_json(in_strings)["b"] == [["x"]]
    deep_after_strings = json.dumps({"a": "[" * JSON_MAX_DEPTH}).encode()[:-1] + b", \"b\": " + nested(JSON_MAX_DEPTH) + b"}"
    with pytest.raises(BadJson, match="nested deeper"):
        parse_json(deep_after_strings)
