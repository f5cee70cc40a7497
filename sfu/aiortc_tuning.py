"""What the SFU changes in aiortc 1.16.0 to make a renegotiation cheaper in big rooms.

Each join renegotiates every participant already there, with SDPs of up to 110 m-lines; in a
55-person room that work saturated the worker (docs/performance.md, "Why the worker gives up").
Three costs there serve nothing in an SFU, and aiortc offers no option to avoid them:

- the answer was parsed twice: by our checks (`check_description`) and by aiortc's
  `setRemoteDescription`. `SfuPeerConnection` runs the checks on aiortc's own parse, before
  aiortc applies anything (so a refused answer changes nothing, as before);
- every `addTransceiver` builds an `RTCRtpReceiver`, whose video `RemoteBitrateEstimator`
  allocates a 1,000-bucket `RateCounter` (≈ 0.2 ms) — even for the sendonly transceivers that
  feed subscribers, whose receiver never receives a packet. `LazyRemoteBitrateEstimator` builds
  it on the first packet;
- every offer recomputes the DTLS certificate's fingerprints (two digests, formatted) once per
  m-line. `install()` memoizes them per certificate (a certificate never changes).

Everything here depends on aiortc's internals as of 1.16.0 (a name-mangled method, a module
global, a method): tests/sfu/test_aiortc_tuning.py fails if any of them moves.
"""

from __future__ import annotations

import aiortc.rtcrtpreceiver
from aiortc import RTCPeerConnection
from aiortc import sdp as aiortc_sdp
from aiortc.rate import RemoteBitrateEstimator
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsFingerprint

AIORTC_VERSION = "1.16.0"  # the version these hooks were written against


def check_description(description: aiortc_sdp.SessionDescription) -> None:
    """Refuse (ValueError) what aiortc 1.16 accepts in an answer but fails on later, outside any
    negotiation: a media section without a DTLS fingerprint makes its connect task die on an
    assertion once ICE ends (the participant never connects and is never told); an SSRC that
    does not fit in 32 bits cannot be written in the RTCP (keyframe requests) sent about it.
    Found by tests/sfu/test_signalling_fuzz.py."""
    for media in description.media:
        if media.dtls is not None and not media.dtls.fingerprints:
            raise ValueError(f"media section {media.rtp.muxId!r} has no DTLS fingerprint")
        ssrcs = [info.ssrc for info in media.ssrc]
        ssrcs += [item for group in media.ssrc_group for item in group.items]
        if any(not 0 <= ssrc < 2**32 for ssrc in ssrcs):
            raise ValueError(f"media section {media.rtp.muxId!r} has an SSRC beyond 32 bits")


class SfuPeerConnection(RTCPeerConnection):
    """An RTCPeerConnection that checks remote descriptions on aiortc's own parse of them and
    keeps that parse (`remote_description`) for the SFU to read SSRCs from."""

    def __init__(self, *args, **kwargs) -> None:
        install()
        super().__init__(*args, **kwargs)
        self.remote_description: aiortc_sdp.SessionDescription | None = None

    # aiortc calls `self.__validate_description(description, is_local)` right after parsing,
    # in setLocalDescription and setRemoteDescription, before applying anything.
    def _RTCPeerConnection__validate_description(  # noqa: N802 - aiortc's mangled name
        self, description: aiortc_sdp.SessionDescription, is_local: bool
    ) -> None:
        super()._RTCPeerConnection__validate_description(description, is_local)
        if not is_local:
            check_description(description)
            self.remote_description = description


class LazyRemoteBitrateEstimator(RemoteBitrateEstimator):
    """aiortc's estimator, built on the first packet it is given rather than with its receiver."""

    def __init__(self) -> None:  # noqa: D107 - the parent's state is built by `add`
        self.built = False

    def add(self, *args, **kwargs):
        if not self.built:
            RemoteBitrateEstimator.__init__(self)
            self.built = True
        return RemoteBitrateEstimator.add(self, *args, **kwargs)


_original_get_fingerprints = RTCCertificate.getFingerprints


def _memoized_fingerprints(self: RTCCertificate) -> list[RTCDtlsFingerprint]:
    cached = self.__dict__.get("_sfu_fingerprints")
    if cached is None:
        cached = self.__dict__["_sfu_fingerprints"] = _original_get_fingerprints(self)
    # Fresh objects each time, as aiortc returns: callers may keep or change them.
    return [RTCDtlsFingerprint(algorithm=f.algorithm, value=f.value) for f in cached]


def install() -> None:
    """Patch aiortc's module globals (idempotent; the whole process is affected, identically
    for every peer connection: both changes only skip recomputation)."""
    aiortc.rtcrtpreceiver.RemoteBitrateEstimator = LazyRemoteBitrateEstimator
    RTCCertificate.getFingerprints = _memoized_fingerprints
