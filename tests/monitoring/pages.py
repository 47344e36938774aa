"""What the page tests share: a page's text, the names of a list's rows, and the checks that
pages send anonymous people to sign in and refuse (403) someone who may not."""

import html


def text_of(response):
    return html.unescape(response.content.decode())


def names(response):
    return [row[0].name for row in response.context["rows"]]


def assert_sends_to_sign_in(client, *urls):
    """Each URL, fetched by someone not signed in, redirects to the sign-in page."""
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), url


def assert_refused(client, *, get=(), post=()):
    """Each ``get`` URL and each ``post`` ``(url, data)`` (or URL, no data) is answered 403."""
    for url in get:
        assert client.get(url).status_code == 403, url
    for entry in post:
        url, data = entry if isinstance(entry, tuple) else (entry, None)
        assert client.post(url, data).status_code == 403, url
