"""Amazon SNS HTTPS deliveries: signature verification, certificate URL checks, subscription confirmation.

The string to sign follows AWS's "Verifying the signatures of Amazon SNS messages": name and value pairs,
each followed by a newline, in byte order of the names.  SignatureVersion 1 is SHA1withRSA, 2 is
SHA256withRSA.  Signing certificates are fetched only from ``https://sns.<region>.amazonaws.com[.cn]``
and cached by URL; tests inject a local certificate through ``fetch`` or ``remember_certificate``, and
the URL check applies to them too.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

MESSAGE_TYPE_HEADER = "x-amz-sns-message-type"
NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SIGNED_FIELDS: dict[str, tuple[str, ...]] = {  # in byte order of the names, as SNS signs them
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_FIELDS,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_FIELDS,
}
_OPTIONAL_FIELDS = frozenset({"Subject"})
_SIGNATURE_FIELDS = ("SignatureVersion", "Signature", "SigningCertURL")
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_SNS_HOST = re.compile(r"sns\.[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}\.amazonaws\.com(?:\.cn)?")
FETCH_TIMEOUT_SECONDS = 5.0
MAX_CERTIFICATE_BYTES = 64 * 1024


class SnsError(ValueError):
    """An SNS delivery opsbot will not act on; the message is one sentence for the sender."""


class SnsMalformed(SnsError):
    """The body is not an SNS message opsbot understands (HTTP 400)."""


class SnsRejected(SnsError):
    """The signature, the signing certificate or a URL in the message cannot be trusted (HTTP 401)."""


class SnsTopicNotAllowed(SnsError):
    """The message is from a topic outside the configured allow-list (HTTP 403)."""


class SnsUnavailable(SnsError):
    """SNS could not be reached to fetch a certificate or confirm a subscription (HTTP 503, retry)."""


@dataclass(frozen=True)
class SnsMessage:
    """A verified SNS message: only the signed fields, so nothing unsigned can ride along."""

    kind: str
    topic_arn: str
    message_id: str
    signed: dict[str, str]

    @property
    def subscribe_url(self) -> str:
        return self.signed.get("SubscribeURL", "")

    def as_event(self) -> dict[str, str]:
        """The envelope to hand to ``parse_event``: the signed fields and nothing else."""
        return dict(self.signed)


def parse_topic_allow_list(raw: str | None) -> frozenset[str]:
    """``OPSBOT_SNS_TOPIC_ARNS``: comma-separated topic ARNs; empty means any topic is accepted."""
    return frozenset(part.strip() for part in (raw or "").split(",") if part.strip())


def _sns_host_url(url: str, what: str) -> tuple[str, str, str]:
    """(host, path, query) of an https URL on an SNS regional host, or ``SnsRejected``."""
    if not url or not url.isascii() or any(ch.isspace() or not ch.isprintable() for ch in url):
        raise SnsRejected(f"the {what} is empty or has non-ASCII, whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SnsRejected(f"the {what} is not a valid URL") from None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() != "https":
        raise SnsRejected(f"the {what} must use https, got {parts.scheme or 'no scheme'!r}")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise SnsRejected(f"the {what} must not carry user information")
    if port not in (None, 443) or parts.netloc.lower() not in (host, f"{host}:443"):
        raise SnsRejected(f"the {what} must use the default https port on the SNS host")
    if not _SNS_HOST.fullmatch(host):
        raise SnsRejected(f"the {what} host {host[:80]!r} is not sns.<region>.amazonaws.com")
    if parts.fragment:
        raise SnsRejected(f"the {what} must not have a fragment")
    return host, parts.path, parts.query


def check_certificate_url(url: str) -> str:
    """``url`` if it is an SNS signing certificate URL: https, ``sns.<region>.amazonaws.com``, ``*.pem``."""
    _, path, query = _sns_host_url(url, "SigningCertURL")
    if not path.endswith(".pem") or query:
        raise SnsRejected("the SigningCertURL must name a .pem file and have no query")
    return url


def check_subscribe_url(url: str) -> str:
    """``url`` if it is an SNS ConfirmSubscription URL on ``sns.<region>.amazonaws.com``."""
    _, path, query = _sns_host_url(url, "SubscribeURL")
    if path not in ("", "/") or parse_qs(query).get("Action") != ["ConfirmSubscription"]:
        raise SnsRejected("the SubscribeURL is not an SNS ConfirmSubscription request")
    return url


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The canonical bytes SNS signed for this message (``Subject`` only when present)."""
    kind = message.get("Type")
    if not isinstance(kind, str) or kind not in _SIGNED_FIELDS:
        raise SnsMalformed(f"unknown SNS message type {kind!r}")
    lines: list[str] = []
    for name in _SIGNED_FIELDS[kind]:
        value = message.get(name)
        if value is None and name in _OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise SnsMalformed(f"the SNS {kind} has no string '{name}'")
        lines += [name, value]
    return ("\n".join(lines) + "\n").encode()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect away from the checked SNS host is an error, not a hop


def _open(url: str) -> bytes:
    opener = urllib.request.build_opener(_NoRedirects)
    with opener.open(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
        data: bytes = response.read(MAX_CERTIFICATE_BYTES + 1)
    return data


def fetch_over_https(url: str) -> bytes:
    """GET ``url`` (already checked) with a 5 s timeout, no redirects and a size cap."""
    data = _open(url)
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise SnsRejected(f"the signing certificate is larger than {MAX_CERTIFICATE_BYTES} bytes")
    return data


def confirm_over_https(url: str) -> None:
    """GET the (already checked) SubscribeURL, which confirms the subscription at SNS."""
    _open(url)


def _certificate_key(pem: bytes) -> rsa.RSAPublicKey:
    try:
        certificate = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise SnsRejected("the signing certificate is not a PEM X.509 certificate") from None
    now = datetime.now(UTC)
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise SnsRejected("the signing certificate is expired or not yet valid")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRejected("the signing certificate does not hold an RSA key")
    return key


class SnsVerifier:
    """Verifies SNS deliveries and confirms subscriptions; one per server, safe across threads."""

    def __init__(
        self,
        topic_arns: Iterable[str] = (),
        fetch: Callable[[str], bytes] = fetch_over_https,
        confirm: Callable[[str], None] = confirm_over_https,
        max_certificates: int = 32,
    ) -> None:
        self.topic_arns = frozenset(topic_arns)
        self._fetch = fetch
        self._confirm = confirm
        self._max_certificates = max(1, max_certificates)
        self._certificates: OrderedDict[str, rsa.RSAPublicKey] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._fetch_lock = threading.Lock()

    def remember_certificate(self, url: str, pem: bytes) -> None:
        """Pre-seed the cache (tests, or a pinned certificate); the URL must still be an SNS one."""
        self._store(check_certificate_url(url), _certificate_key(pem))

    def _store(self, url: str, key: rsa.RSAPublicKey) -> None:
        with self._cache_lock:
            self._certificates[url] = key
            self._certificates.move_to_end(url)
            while len(self._certificates) > self._max_certificates:
                self._certificates.popitem(last=False)

    def _cached(self, url: str) -> rsa.RSAPublicKey | None:
        with self._cache_lock:
            key = self._certificates.get(url)
            if key is not None:
                self._certificates.move_to_end(url)
            return key

    def public_key(self, url: str) -> rsa.RSAPublicKey:
        """The key of the certificate at ``url``: checked, then cached or fetched once."""
        check_certificate_url(url)
        if (key := self._cached(url)) is not None:
            return key
        with self._fetch_lock:  # one fetch per URL even when many deliveries arrive at once
            if (key := self._cached(url)) is not None:
                return key
            try:
                pem = self._fetch(url)
            except OSError as error:  # URLError, HTTPError and timeouts are OSErrors
                raise SnsUnavailable(f"could not fetch the SNS signing certificate ({error})") from None
            key = _certificate_key(pem)
            self._store(url, key)
            return key

    def verify(self, message: Mapping[str, Any], header_type: str | None = None) -> SnsMessage:
        """The verified message, or ``SnsError`` saying in one sentence why it is refused."""
        kind = message.get("Type")
        if not isinstance(kind, str) or kind not in _SIGNED_FIELDS:
            raise SnsMalformed(f"unknown SNS message type {kind!r}")
        if header_type is not None and header_type != kind:
            raise SnsMalformed(f"the {MESSAGE_TYPE_HEADER} header {header_type!r} is not the Type {kind!r}")
        signed_bytes = string_to_sign(message)
        for name in _SIGNATURE_FIELDS:
            if not isinstance(message.get(name), str):
                raise SnsMalformed(f"the SNS {kind} has no string '{name}'")
        topic_arn = str(message["TopicArn"])
        if self.topic_arns and topic_arn not in self.topic_arns:
            raise SnsTopicNotAllowed(f"SNS topic {topic_arn} is not in OPSBOT_SNS_TOPIC_ARNS")
        version = str(message["SignatureVersion"])
        if version not in _HASHES:
            raise SnsRejected(f"unsupported SNS SignatureVersion {version!r} (opsbot verifies 1 and 2)")
        try:
            signature = base64.b64decode(str(message["Signature"]), validate=True)
        except (binascii.Error, ValueError):
            raise SnsRejected("the SNS Signature is not base64") from None
        key = self.public_key(str(message["SigningCertURL"]))
        try:
            key.verify(signature, signed_bytes, padding.PKCS1v15(), _HASHES[version]())
        except InvalidSignature:
            raise SnsRejected("the SNS signature does not match the message") from None
        signed = {name: str(message[name]) for name in _SIGNED_FIELDS[kind] if message.get(name) is not None}
        return SnsMessage(kind, topic_arn, str(message["MessageId"]), signed)

    def confirm_subscription(self, message: SnsMessage) -> None:
        """GET the verified confirmation's SubscribeURL, after checking it points at SNS."""
        if message.kind != SUBSCRIPTION_CONFIRMATION:
            raise SnsMalformed(f"an SNS {message.kind} is not a subscription confirmation")
        url = check_subscribe_url(message.subscribe_url)
        try:
            self._confirm(url)
        except OSError as error:  # URLError, HTTPError and timeouts are OSErrors
            raise SnsUnavailable(f"could not confirm the subscription at SubscribeURL ({error})") from None
