from datetime import UTC, datetime

import pytest

from runtime.http import retry_after_s

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("-5", 0.0),
        ("soon", None),
        ("nan", None),
        ("Fri, 27 Nov 2026 09:01:30 GMT", 90.0),
        ("Fri, 27 Nov 2026 08:00:00 GMT", 0.0),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value, expected):
    assert retry_after_s(value, now=NOW) == expected


def test_retry_after_is_capped_when_asked():
    assert retry_after_s("3600", now=NOW, cap_s=300.0) == 300.0
    assert retry_after_s("30", now=NOW, cap_s=300.0) == 30.0
