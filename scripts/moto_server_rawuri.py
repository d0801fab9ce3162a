#!/usr/bin/env python3
"""moto_server, with SigV4 checked against the request URI exactly as the client sent it.

Use it instead of `moto_server` (same arguments and environment, e.g.
`INITIAL_NO_AUTH_ACTION_COUNT=4 python3 scripts/moto_server_rawuri.py -H 127.0.0.1 -p 5056`).

Why: with authentication enforced (INITIAL_NO_AUTH_ACTION_COUNT), moto 5 rebuilds the URL it
verifies the signature against from werkzeug's *IRI* form of the request, which has most
percent-escapes decoded (%2F -> '/', %C3%BC -> 'ü', %26 -> '&', ...). Real S3 canonicalises the
URI-encoded form (SigV4: '/' in a query value is %2F; a key's bytes are %XX-encoded), so a
correctly signed request for a key like `odd/ü&x` or a ListObjectsV2 with `prefix=stream%2F...`
is refused by moto with SignatureDoesNotMatch (boto3's requests too). This wrapper changes one
thing: during the signature check, moto sees the raw request target (werkzeug's RAW_URI) instead
of the decoded one. Everything else is stock moto.
"""
import sys
from urllib.parse import urlsplit

from moto.core import authorization
from moto.core.responses import BaseResponse
from moto.server import main

_setup_class = BaseResponse.setup_class
_authenticate = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action


def setup_class(self, request, full_url, headers, use_raw_body=False):
    _setup_class(self, request, full_url, headers, use_raw_body)
    environ = getattr(request, "environ", None)
    self._raw_request_uri = environ.get("RAW_URI") if environ else None


def authenticate(self, iam_request_cls, resource="*"):
    raw = getattr(self, "_raw_request_uri", None)
    if not raw or not raw.startswith("/"):
        return _authenticate(self, iam_request_cls, resource)
    decoded = self.uri
    parts = urlsplit(decoded)
    self.uri = f"{parts.scheme}://{parts.netloc}{raw}"
    try:
        return _authenticate(self, iam_request_cls, resource)
    finally:
        self.uri = decoded


BaseResponse.setup_class = setup_class
authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate

if __name__ == "__main__":
    main(sys.argv[1:])
