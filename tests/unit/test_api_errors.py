"""Error bodies are described, never quoted: a known vendor phrase or the kind of answer,
then content type, length and a short hash (issue 14, point 3)."""

import hashlib

from worker.api.errors import error_message, named_ids


def test_a_known_vendor_phrase_is_quoted_from_our_own_list() -> None:
    body = b'{"Message": "The request is invalid.", "MessageDetail": "take must be >= 1"}'
    message = error_message(body, "application/json; charset=utf-8")
    assert message.startswith("The request is invalid. (application/json, ")
    assert "take must be" not in message


def test_oauth_codes_are_quoted_only_from_the_rfc_list() -> None:
    message = error_message(b'{"error":"invalid_grant","error_description":"bad keys"}')
    assert message.startswith("invalid_grant (")
    assert "bad keys" not in message
    assert "ownerName_Jane" not in error_message(b'{"error":"ownerName_Jane"}')


def test_xml_error_body() -> None:
    body = b"<Error><Message>Authorization has been denied for this request.</Message></Error>"
    assert error_message(body, "application/xml").startswith(
        "Authorization has been denied for this request. (application/xml, "
    )


def test_an_html_page_is_named_not_quoted() -> None:
    message = error_message(b"<html><head><title>Jane Doe 555-0101</title></head></html>")
    assert message.startswith("an HTML page (")
    assert "Jane" not in message


def test_a_body_is_described_by_type_length_and_hash() -> None:
    body = b'{"result": [{"ownerName": "Jane Doe", "ownerEmail": "jane@example.com"'
    message = error_message(body, "application/json")
    digest = hashlib.sha256(body).hexdigest()[:12]
    assert message == f"application/json, {len(body)} bytes, sha256 {digest}"


def test_arbitrary_messages_and_content_types_are_not_quoted() -> None:
    body = b'{"Message": "Property of Jane Doe (jane@example.com) was not found."}'
    message = error_message(body, "text/x-jane@example.com;q=1")
    assert "Jane" not in message
    assert "jane@" not in message
    assert message.startswith("the API's not-found answer (")
    assert named_ids(b'{"Message": "Property 12 was not found."}') == frozenset({"12"})


def test_empty_and_undecodable_bodies() -> None:
    assert error_message(b"") == "no content type, empty body"
    assert "oops" not in error_message(b"\xff\xfe oops")
