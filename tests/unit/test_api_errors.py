from worker.api.errors import error_message


def test_json_message_and_model_state() -> None:
    body = b'{"Message": "The request is invalid.", "MessageDetail": "take must be >= 1"}'
    assert error_message(body) == "The request is invalid.: take must be >= 1"


def test_oauth_error_shape() -> None:
    assert error_message(b'{"error":"invalid_grant","error_description":"bad keys"}') == (
        "invalid_grant: bad keys"
    )


def test_xml_error_body() -> None:
    body = b"<Error><Message>Authorization has been denied for this request.</Message></Error>"
    assert (
        error_message(body, "application/xml") == "Authorization has been denied for this request."
    )


def test_html_page_uses_its_title_and_long_bodies_are_clipped() -> None:
    assert error_message(b"<html><head><title>502 Bad Gateway</title></head></html>") == (
        "HTML page: 502 Bad Gateway"
    )
    assert len(error_message(b"x" * 5000)) <= 300


def test_empty_and_undecodable_bodies() -> None:
    assert error_message(b"") == "(empty body)"
    assert error_message(b"\xff\xfe oops").startswith("body:")
