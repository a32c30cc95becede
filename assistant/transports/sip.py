"""SIP calls answered by the assistant: PJSIP (pjsua2) does the signalling and RTP, the call runtime
(assistant/core/session.py) does the rest.

    server = SipServer("127.0.0.1", 5060, voice.open_call, max_calls=16)
    await server.start()     # INVITEs are answered from now on
    await server.stop()      # every call hung up (BYE), PJSIP shut down

What a caller gets: an INVITE to any user is answered (180, then 200 once the call's session is open);
the caller id is the user part of P-Asserted-Identity, else of From. Codecs PCMU, PCMA and G722 (the
conference bridge runs at 8 kHz, so the session hears 8 kHz audio whatever the codec). BYE or CANCEL
from the caller ends the call (EndOfCall); when the assistant's side of a call ends first (a failure,
or `stop`), it sends BYE. A re-INVITE putting the call on hold (sendonly/inactive) keeps the call, and no
audio flows either way until it is taken off hold. Keys arrive by RFC 4733 telephone-events or SIP
INFO (application/dtmf-relay) as Dtmf frames, as the keypad's. OPTIONS is answered 200 (health
probes); an INVITE beyond `max_calls` gets 503, so a proxy tries another worker.

Outbound calls (`originate`, the Dialer of assistant/core/dialing.py): a call to number N is an INVITE
to `sip:N@<trunk>` from the same account and transport. 486, 600 and 603 are busy; 480, and a phone
that rang but was not answered (408, or within the ring timeout: the INVITE is then cancelled), are no
answer; any other final response, or none at all within the ring timeout, is failed. An answered call opens its session through the same opener as
inbound calls, with `CallStarted(direction=OUTBOUND, caller=N, start_function=...)`, and counts against
the same `max_calls`; `originate` returns once it is over.

An agent's phone taking a call (`connect_agent`, from assistant/runtime/bridging.py): a second leg,
an INVITE straight to the agent's SIP URI; while it rings the caller hears hold audio from here.
Once the agent answers, the two calls' audio is joined in the conference bridge (caller and agent hear
each other) and the assistant's session neither hears the caller nor speaks to them any more (its keys
are dropped too); it stays open until either side hangs up, and the other leg is then hung up as
well. A leg that is not answered leaves the caller on hold audio until `hold_audio(..., False)`.

Threads. One thread ("sip") owns the one pjsua2 Endpoint of the process: it creates it, polls it
(`libHandleEvents`, no PJSIP worker threads, `mainThreadOnly` so every SIP callback arrives on it), runs
the jobs the event loop hands it, and destroys it. PJSIP objects (calls, media ports) are made, used and
deleted only there, and never inside their own callbacks. The exception is audio: the conference bridge's
clock thread (a PJSIP thread) calls each call's port every 20 ms; those callbacks only copy bytes and
hand them on (`call_soon_threadsafe` to the event loop, a deque from it), so they hold the GIL for
microseconds. The event loop never calls PJSIP.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import itertools
import logging
import queue
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pjsua2 as pj

from assistant.core.dialing import Dialed, OutboundCall, Outcome
from assistant.core.errors import AssistantError
from assistant.core.frames import INBOUND, OUTBOUND, AudioChunk, CallStarted, Dtmf, EndOfCall
from assistant.core.session import FRAME_S, CallOpener, CallSession
from assistant.queue.hold import hold_pattern
from domain.masking import tail

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000  # the conference bridge's clock: what every call's session hears and says
FRAME_BYTES = int(SAMPLE_RATE * FRAME_S) * 2
CODECS = ("PCMU/8000", "PCMA/8000", "G722/16000")  # in order of preference; every other codec is off
# Calls PJSIP holds at once, refused ones included: compiled in. The pjsua2-python 2.15.1 wheel keeps
# PJSUA's default of 4 (measured: a 5th INVITE at once gets PJSIP's own 486, whatever maxCalls says),
# so one worker carries 3 calls and more calls take more workers (deploy/cluster).
PJSUA_MAX_CALLS = 4
SPARE_SLOTS = 1  # a slot kept free so a call over the limit is still told 503 (a proxy then tries another worker)
POLL_MS = 10  # how long the sip thread waits for SIP events before it looks at its jobs
PLAYOUT_FRAMES = 50  # at most 1 s of reply audio waits for the bridge (the session keeps ~100 ms there)
HANGUP_WAIT_S = 3.0  # at stop: how long calls get to finish their BYE transactions
LOST_DIAL_S = 15.0  # an unanswered dial with no final response this long after its ring timeout: failed
RTP_IDLE_S = 30.0  # an answered call receiving no RTP this long (not on hold): the far end is gone
STOPPED_POLL_S = 1.0  # how often a waiting `originate` checks that the sip thread still runs
KEYS = frozenset("0123456789*#")
CALLER_CHARS = re.compile(r"[0-9A-Za-z+*#._-]{1,64}")
PAI = re.compile(r"^P-Asserted-Identity[ \t]*:[ \t]*(.+?)\r?$", re.IGNORECASE | re.MULTILINE)
URI_USER = re.compile(r"(?:sips?:([^@;>\s]+)@|tel:([^;>\s]+))", re.IGNORECASE)
DIAL_INTERVAL_S = 0.2  # outbound calls placed at most 5 a second (see SipServer._pace)
DIALABLE = re.compile(r"\+?[0-9*#]{1,32}")
BUSY = frozenset({486, 600, 603})
TIMEOUT, UNAVAILABLE = 408, 480  # PJSIP's own 408 when no final response came
CALLER_LEFT = "the caller hung up while the agent's phone rang"
NO_TRUNK = ("outbound calls need a SIP peer: set config.yml telephony.trunk or $ASSISTANT_TRUNK "
            "(HOST:PORT; a call to N is an INVITE to sip:N@HOST:PORT)")

_endpoint_lock = threading.Lock()  # PJSIP allows one Endpoint per process


def caller_id(from_header: str, request: str = "") -> str | None:
    """The user part of P-Asserted-Identity in `request` (the raw INVITE), else of `from_header`
    (a From value, name-addr or addr-spec); None when neither holds a plausible one."""
    headers = [m.group(1) for m in PAI.finditer(request)] + [from_header]
    for header in headers:
        match = URI_USER.search(header)
        if match:
            user = match.group(1) or match.group(2)
            if CALLER_CHARS.fullmatch(user):
                return user
    return None


def outcome_of(status: int, reason: str, rang: bool, timed_out: bool) -> tuple[Outcome, str]:
    """How an unanswered outbound call went, from the final response to its INVITE (PJSIP's own 408
    when none came): the outcome and, for failed, why. A timeout is no answer only if the phone rang."""
    if status in BUSY:
        return "busy", ""
    if status == UNAVAILABLE or (rang and (timed_out or status == TIMEOUT)):
        return "no_answer", ""
    if timed_out or status == TIMEOUT:
        return "failed", "the trunk sent no answer to the INVITE (no ringing, no final response)"
    return "failed", f"{status} {reason}".strip()


@dataclass
class CallStats:
    """What one call's media did: received RTP (from PJSIP's stream statistics) and how regularly the
    bridge asked for reply audio (a late frame: more than 2 frame times after the one before)."""

    call_id: str
    rx_packets: int = 0
    rx_lost: int = 0
    rx_discarded: int = 0  # came too late or too early for the jitter buffer
    jitter_ms: float = 0.0
    frames_requested: int = 0
    frames_played: int = 0  # of those, frames of reply audio (the others: silence)
    frames_late: int = 0


@dataclass
class _Line:
    """One call as the event loop sees it; also the session's AudioSink."""

    key: int
    call_id: str
    session: CallSession | None = None
    task: asyncio.Task | None = None
    playout: deque[bytes] = field(default_factory=lambda: deque(maxlen=PLAYOUT_FRAMES))
    held: bool = False  # set by the sip thread: while held no audio flows either way
    heard_samples: int = 0
    caller_hung_up: bool = False
    bridged: bool = False  # joined to an agent's phone: the session neither hears nor speaks
    hold_at: int | None = None  # where in _HOLD the line's own hold audio goes on (None: none)

    async def send(self, pcm: bytes) -> None:
        if not self.held and not self.bridged:
            self.playout.append(pcm)

    async def clear(self) -> None:
        self.playout.clear()

    def heard(self, pcm: bytes) -> None:
        """Caller audio from the bridge, on the event loop."""
        if self.session is not None and not self.held:
            self.session.push(AudioChunk(pcm, SAMPLE_RATE, self.heard_samples / SAMPLE_RATE))
            self.heard_samples += len(pcm) // 2


class SipServer:
    """Answers SIP calls on host:port with sessions from `open_call` (see the module's text).

    `rtp_port`: the first RTP port (default: the SIP port + 2); RTP and RTCP take the ports from there
    up, two per call."""

    def __init__(self, host: str, port: int, open_call: CallOpener, max_calls: int,
                 rtp_port: int | None = None, trunk: str | None = None, rtp_idle_s: float = RTP_IDLE_S) -> None:
        """`trunk`: HOST:PORT of the SIP peer outbound calls go to (None: `originate` refuses);
        `rtp_idle_s`: an answered call whose far end sends no RTP this long (not on hold) is hung up."""
        if max_calls < 1:
            raise AssistantError(f"SIP: max_calls must be at least 1, not {max_calls}")
        if max_calls > PJSUA_MAX_CALLS - SPARE_SLOTS:
            log.info("SIP: at most %d calls at once (PJSIP's limit), not %d", PJSUA_MAX_CALLS - SPARE_SLOTS, max_calls)
            max_calls = PJSUA_MAX_CALLS - SPARE_SLOTS
        self.host = host
        self.port = port
        self.rtp_port = rtp_port if rtp_port is not None else (port + 2 if port else 0)
        self.open_call = open_call
        self.max_calls = max_calls
        self.trunk = trunk
        self.rtp_idle_s = rtp_idle_s
        self.stats: list[CallStats] = []  # one per finished call, newest last
        self._lines: dict[int, _Line] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack: _Stack | None = None
        self._pacing = threading.Lock()
        self._next_dial = 0.0  # monotonic time the next outbound call may be placed

    @property
    def active_calls(self) -> int:
        return len(self._lines)

    async def start(self) -> None:
        """Binds host:port (UDP) and answers calls from now on; AssistantError when it cannot."""
        if self._stack is not None:
            raise AssistantError("SIP: the server is already started")
        if not _endpoint_lock.acquire(blocking=False):
            raise AssistantError("SIP: one SIP server per process (PJSIP has one endpoint per process)")
        self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[int] = self._loop.create_future()
        self._stack = _Stack(self, ready)
        self._stack.start()
        try:
            self.port = await ready
        except BaseException:
            self._stack.join(5)
            self._stack = None
            _endpoint_lock.release()
            raise
        log.info("SIP: answering calls on %s:%d (UDP), at most %d at once, codecs %s",
                 self.host, self.port, self.max_calls, ", ".join(CODECS))

    async def stop(self) -> None:
        """Hangs every call up (BYE), waits for their sessions to end, and shuts PJSIP down."""
        stack, self._stack = self._stack, None
        if stack is None:
            return
        stack.post(stack.shutdown)
        await asyncio.get_running_loop().run_in_executor(None, stack.join)
        for line in list(self._lines.values()):  # the sip thread told each of them; make sure
            self._ended(line.key)
        tasks = [line.task for line in self._lines.values() if line.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=30)
        _endpoint_lock.release()
        log.info("SIP: stopped")

    def originate(self, call: OutboundCall, ring_timeout_s: float = 30.0) -> Dialed:
        """Dials `call.number` at the trunk and blocks until the call is over (the Dialer of
        assistant/core/dialing.py): from a thread of its own, never the event loop's, which carries
        the answered call. AssistantError when no trunk is set or the server is not running."""
        if self.trunk is None:
            raise AssistantError(NO_TRUNK)
        stack = self._stack
        if stack is None:
            raise AssistantError("SIP: the server is not running: start it before placing calls")
        if _on_loop(self._loop):
            raise AssistantError("SIP: originate blocks until the call is over: call it from a thread, not the event loop")
        if not DIALABLE.fullmatch(call.number):
            return Dialed("failed", "", detail="not a phone number (digits, *, # and a leading + only)")
        self._pace()
        return self._wait(stack, _Dial(f"sip:{call.number}@{self.trunk}", ring_timeout_s, call=call))

    def _pace(self) -> None:
        """At most one new outbound call every DIAL_INTERVAL_S (blocking the dialling thread): PJSIP frees
        a call's socket slots only 500 ms after they close, so a burst of instant rejections (a trunk
        answering 486 at once) would use up its 64 and abort the process (pjsip issue #2617)."""
        with self._pacing:
            wait = self._next_dial - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._next_dial = time.monotonic() + DIAL_INTERVAL_S

    def connect_agent(self, call_id: str, phone: str, ring_timeout_s: float) -> Dialed:
        """Puts the live call `call_id` (a SIP Call-ID) through to an agent's `phone` (a SIP URI) and
        blocks until the agent answered (answered: the calls' audio is joined from now on) or did not
        (busy, no answer, failed; CALLER_LEFT as the detail when the caller hung up meanwhile). From a
        thread of its own, as `originate`."""
        stack = self._stack
        if stack is None:
            raise AssistantError("SIP: the server is not running")
        if _on_loop(self._loop):
            raise AssistantError("SIP: connect_agent blocks: call it from a thread, not the event loop")
        self.hold_audio(call_id, True)  # while the agent's phone rings
        return self._wait(stack, _Dial(phone, ring_timeout_s, joins=call_id))

    def live_calls(self) -> dict[str, CallSession]:
        """The calls whose session runs and that no agent's phone has yet, by SIP Call-ID: a snapshot,
        from any thread (list() copies the loop's mapping in one step)."""
        return {line.call_id: line.session for line in list(self._lines.values())
                if line.session is not None and not line.bridged}

    def hold_audio(self, call_id: str, on: bool) -> None:
        """Hold audio of the line's own for the call (from any thread), under whatever its session says."""
        self._call_soon(self._hold, call_id, on)

    def _wait(self, stack: _Stack, dial: _Dial) -> Dialed:
        stack.post(lambda: stack.dial(dial))
        while True:
            try:
                return dial.done.result(timeout=STOPPED_POLL_S)
            except concurrent.futures.TimeoutError:
                loop = self._loop
                if not stack.is_alive() and (dial.answered_at is None or loop is None or loop.is_closed()):
                    # PJSIP is gone with a call it never placed or never ended (an answered one is
                    # settled on the event loop once its session ends)
                    dial.finish(Dialed("failed", "", detail="the SIP server stopped"))

    # -- on the event loop, called from the sip thread through call_soon_threadsafe --

    def _open(self, key: int, started: CallStarted, dial: _Dial | None = None) -> None:
        """An inbound call to answer, or an answered outbound one (`dial`)."""
        line = _Line(key, started.call_id)
        try:
            line.session = self.open_call(started, line)
        except Exception:
            log.exception("SIP call %s: could not open a session; %s", started.call_id,
                          "hanging up" if dial else "refused")
            if dial is None:
                self._post(lambda stack: stack.reject(key, 500))
            else:
                dial.broken = "the answered call's session could not be opened"
                self._post(lambda stack: stack.hang_up(key))
            return
        self._lines[key] = line
        line.task = asyncio.create_task(self._run(line))
        if dial is None:
            self._post(lambda stack: stack.answer(key))

    def _settle(self, key: int, dial: _Dial, dialed: Dialed) -> None:
        """An answered outbound call's SIP side is over: `originate` returns once its session is too."""
        line = self._lines.get(key)
        if line is None or line.task is None or line.task.done():
            dial.finish(dialed)
        else:
            line.task.add_done_callback(lambda _: dial.finish(dialed))

    async def _run(self, line: _Line) -> None:
        try:
            assert line.session is not None
            await line.session.run()
        finally:
            self._lines.pop(line.key, None)
            if not line.caller_hung_up:  # the assistant's side ended first: BYE
                self._post(lambda stack: stack.hang_up(line.key))

    def _ended(self, key: int) -> None:
        line = self._lines.get(key)
        if line is not None and not line.caller_hung_up:
            line.caller_hung_up = True
            if line.session is not None:
                line.session.push(EndOfCall())

    def _dtmf(self, key: int, digit: str) -> None:
        line = self._lines.get(key)
        # joined to an agent, keys go nowhere: not to the session, which no longer listens, and not to the
        # agent's phone, so an agent never learns a key a caller presses (a PIN among them)
        if line is not None and line.session is not None and not line.bridged:
            line.session.push(Dtmf(digit))

    def _hold(self, call_id: str, on: bool) -> None:
        line = next((line for line in self._lines.values() if line.call_id == call_id), None)
        if line is not None and not line.bridged:
            line.hold_at = (line.hold_at or 0) if on else None

    def _bridged(self, key: int) -> None:
        line = self._lines.get(key)
        if line is not None:
            line.bridged, line.hold_at = True, None
            line.playout.clear()

    def _post(self, job: Callable[[_Stack], None]) -> None:
        stack = self._stack
        if stack is not None:
            stack.post(lambda: job(stack))

    def _call_soon(self, callback: Callable[..., None], *args: object) -> None:
        """From the sip or media threads to the event loop (dropped once the loop is gone)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback, *args)


class _Stack(threading.Thread):
    """The sip thread: owns the Endpoint, its account and every call's PJSIP objects."""

    def __init__(self, server: SipServer, ready: asyncio.Future[int]) -> None:
        super().__init__(name="sip", daemon=True)
        self.server = server
        self.ready = ready
        self.jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self.calls: dict[int, _Call] = {}
        self.keys = itertools.count(1)
        self.running = True
        self.next_watch = 0.0  # when _watch_media looks next (monotonic)
        self.endpoint: pj.Endpoint | None = None
        self.account: _Account | None = None

    def post(self, job: Callable[[], None]) -> None:
        """Runs `job` on the sip thread (from any thread)."""
        self.jobs.put(job)

    def run(self) -> None:
        try:
            port = self._create()
        except Exception as error:  # a port in use, a bad address: the caller of start() is told
            self._destroy()
            message = f"SIP: cannot listen on {self.server.host}:{self.server.port}: {error_text(error)}"
            self.server._call_soon(_fail, self.ready, AssistantError(message))
            return
        self.server._call_soon(_succeed, self.ready, port)
        try:
            while self.running:
                self.endpoint.libHandleEvents(POLL_MS)
                self._run_jobs()
                self._ring_timeouts()
                self._watch_media()
        except Exception:
            log.exception("SIP: the signalling thread failed; every call is hung up")
        finally:
            self._close_calls()
            self._destroy()

    def _run_jobs(self) -> None:
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                return
            try:
                job()
            except pj.Error as error:  # e.g. answering a call the caller has just cancelled
                log.debug("SIP: %s", error_text(error))
            except Exception:
                log.exception("SIP: a signalling job failed")

    def _create(self) -> int:
        server = self.server
        endpoint = self.endpoint = pj.Endpoint()
        # libCreate logs its start-up to stdout before any EpConfig applies (a campaign run's output
        # would begin with PJSIP's lines): pjlib's own level, set first, keeps it quiet
        ctypes.CDLL(pj._pjsua2.__file__).pj_log_set_level(ctypes.c_int(0))
        endpoint.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0  # this thread polls: no PJSIP worker threads calling Python
        config.uaConfig.mainThreadOnly = True  # callbacks from media threads (RFC 4733 keys) come here too
        config.uaConfig.maxCalls = PJSUA_MAX_CALLS
        config.uaConfig.userAgent = "assistant"
        config.logConfig.level = 3  # warnings and call events; never message bodies (INFO carries keys)
        config.logConfig.consoleLevel = 0
        config.logConfig.msgLogging = False
        writer = _LogWriter()
        writer.__disown__()  # libDestroy deletes the writer: C++ owns it
        config.logConfig.writer = writer
        config.medConfig.clockRate = SAMPLE_RATE
        config.medConfig.sndClockRate = SAMPLE_RATE
        config.medConfig.channelCount = 1
        config.medConfig.audioFramePtime = int(FRAME_S * 1000)
        config.medConfig.ecTailLen = 0  # no echo canceller: there is no loudspeaker here
        config.medConfig.noVad = True  # send RTP all the time (no silence suppression)
        endpoint.libInit(config)

        transport = pj.TransportConfig()
        transport.port = server.port
        transport.boundAddress = server.host
        transport.publicAddress = server.host
        transport_id = endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        endpoint.libStart()
        endpoint.audDevManager().setNullDev()  # no sound card; its clock drives the bridge
        self._choose_codecs()
        port = int(endpoint.transportGetInfo(transport_id).localName.rsplit(":", 1)[1])

        account = pj.AccountConfig()
        account.idUri = f"sip:assistant@{server.host}:{port}"
        account.mediaConfig.transportConfig.port = server.rtp_port
        account.mediaConfig.transportConfig.portRange = 4 * PJSUA_MAX_CALLS if server.rtp_port else 0
        account.mediaConfig.transportConfig.boundAddress = server.host
        account.mediaConfig.transportConfig.publicAddress = server.host
        self.account = _Account(self)
        self.account.create(account, True)  # the default account: it takes calls to any user
        return port

    def _choose_codecs(self) -> None:
        assert self.endpoint is not None
        for codec in self.endpoint.codecEnum2():
            name = codec.codecId.rsplit("/", 1)[0] if codec.codecId.count("/") == 2 else codec.codecId
            priority = 255 - CODECS.index(name) if name in CODECS else 0
            self.endpoint.codecSetPriority(codec.codecId, priority)

    # -- calls, on this thread --

    def incoming(self, call_id: int, request: str) -> None:
        assert self.account is not None
        key = next(self.keys)
        call = _Call(self, key, call_id)
        self.calls[key] = call  # kept until DISCONNECTED, then deleted by a job here
        info = call.getInfo()
        call.sip_call_id = info.callIdString
        if self._active() > self.server.max_calls:
            call.refused = True
            log.warning("SIP call %s refused: %d calls already (max_calls)", info.callIdString, self.server.max_calls)
            self.reject(key, 503)
            return
        caller = caller_id(info.remoteUri, request)
        started = CallStarted(info.callIdString, caller, INBOUND, SAMPLE_RATE, "sip")
        log.info("SIP call %s from %s", info.callIdString, caller or "an unknown number")
        call.answer(_status(180))
        self.server._call_soon(self.server._open, key, started)

    def dial(self, dial: _Dial) -> None:
        """An INVITE to the trunk (or an agent's phone), unless the worker has no room for another call."""
        # numbers by their last 4 digits only in the log
        number = tail(dial.call.number) if dial.call else "an agent's phone"
        if self._active() >= self.server.max_calls:
            log.warning("SIP: no call to %s placed: %d calls already (max_calls)", number, self.server.max_calls)
            dial.finish(Dialed("failed", "", detail=f"the call limit is reached ({self.server.max_calls} calls)"))
            return
        caller = None
        if dial.joins:
            caller = next((c for c in self.calls.values() if c.sip_call_id == dial.joins and not c.refused
                           and not c.disconnected and c.peer is None), None)
            if caller is None:
                dial.finish(Dialed("failed", "", detail=f"call {dial.joins} is no longer here"))
                return
        key = next(self.keys)
        call = self.calls[key] = _Call(self, key, pj.PJSUA_INVALID_ID, dial)
        call.peer = caller
        try:
            call.makeCall(dial.uri, pj.CallOpParam(True))
        except pj.Error as error:
            del self.calls[key]
            log.warning("SIP: the call to %s could not be placed: %s", number, error_text(error))
            dial.finish(Dialed("failed", "", detail=f"the INVITE could not be sent: {error_text(error)}"))
            return
        call.sip_call_id = call.getInfo().callIdString
        dial.deadline = time.monotonic() + dial.ring_timeout_s
        log.info("SIP call %s: dialling %s for %s", call.sip_call_id, number,
                 dial.call.purpose if dial.call else f"call {dial.joins}")

    def answered(self, call: _Call) -> None:
        """From the call's own callback: the callee answered; its session opens on the event loop."""
        dial = call.dial
        assert dial is not None
        dial.answered_at = time.monotonic()
        if dial.call is None:
            log.info("SIP call %s: the agent's phone answered", call.sip_call_id)
            self.join_calls(call)
            return
        started = CallStarted(call.sip_call_id, dial.call.number, OUTBOUND, SAMPLE_RATE, "sip",
                              start_function=dial.call.start_function, slots=dict(dial.call.slots))
        log.info("SIP call %s: answered", call.sip_call_id)
        self.server._call_soon(self.server._open, call.key, started, dial)

    def join_calls(self, agent: _Call) -> None:
        """The agent's answered leg and its caller's call joined in the bridge, once the leg has audio."""
        caller = agent.peer
        if agent.dial is None or agent.dial.answered_at is None or agent.media is None or caller is None:
            return
        if caller.joined or caller.disconnected:
            return
        caller.unlink()
        caller.peer = agent
        if caller.media is not None:
            caller.link()
        log.info("SIP call %s: put through to the agent's phone (call %s)", caller.sip_call_id, agent.sip_call_id)
        agent.dial.finish(Dialed("answered", agent.sip_call_id, 200))
        self.server._call_soon(self.server._bridged, caller.key)

    def _ring_timeouts(self) -> None:
        """Outbound calls not answered within their ring timeout: cancelled (CANCEL)."""
        now = time.monotonic()
        for call in list(self.calls.values()):
            dial = call.dial
            if dial is None or dial.answered_at is not None or dial.timed_out or call.disconnected:
                continue
            if now >= dial.deadline:
                dial.timed_out = True
                log.info("SIP call %s: no answer in %g s; cancelling", call.sip_call_id, dial.ring_timeout_s)
                try:
                    call.hangup(pj.CallOpParam(True))
                except pj.Error as error:  # no provisional response yet: PJSIP cancels once one comes
                    log.debug("SIP: %s", error_text(error))

    def _watch_media(self) -> None:
        """Once a second: a dial PJSIP never ended LOST_DIAL_S after its ring timeout is given up as
        failed, so its caller is never left waiting; an answered call whose far end has sent no RTP
        for the server's rtp_idle_s while not on hold is hung up (the peer vanished without a BYE)."""
        now = time.monotonic()
        if now < self.next_watch:
            return
        self.next_watch = now + 1.0
        for call in list(self.calls.values()):
            dial = call.dial
            if dial is not None and dial.answered_at is None and not dial.done.done() and dial.deadline \
                    and now >= dial.deadline + LOST_DIAL_S:
                log.warning("SIP call %s: no final response %g s after its ring timeout; given up as failed",
                            call.sip_call_id, LOST_DIAL_S)
                dial.finish(Dialed("failed", call.sip_call_id, detail="no final response to the INVITE"))
            if call.disconnected or call.media is None:
                continue
            line = self.server._lines.get(call.key)
            if line is not None and line.held:
                call.rtp_seen = (now, call.rtp_seen[1])  # a held line sends nothing, rightly
                continue
            try:
                packets = call.getStreamStat(0).rtcp.rxStat.pkt
            except pj.Error:
                continue
            if packets != call.rtp_seen[1]:
                call.rtp_seen = (now, packets)
            elif now - call.rtp_seen[0] >= self.server.rtp_idle_s:
                log.warning("SIP call %s: no RTP for %g s; hanging up", call.sip_call_id, self.server.rtp_idle_s)
                call.rtp_seen = (float("inf"), packets)  # once
                self.hang_up(call.key)

    def _active(self) -> int:
        """Calls that count against `max_calls`: inbound ones not refused, and outbound ones."""
        return sum(not c.refused for c in self.calls.values())

    def answer(self, key: int) -> None:
        call = self.calls.get(key)
        if call is not None and not call.disconnected:
            call.answer(_status(200))

    def reject(self, key: int, code: int) -> None:
        call = self.calls.get(key)
        if call is not None and not call.disconnected:
            call.hangup(_status(code))

    def hang_up(self, key: int) -> None:
        call = self.calls.get(key)
        if call is not None and not call.disconnected:
            log.info("SIP call %s: hanging up", call.sip_call_id)
            call.hangup(pj.CallOpParam(True))

    def disconnected(self, call: _Call, status: int, reason: str) -> None:
        """From the call's own callback: tell the session (and an outbound call's `originate`), delete
        the PJSIP objects afterwards. `status`: the final response to the call's INVITE."""
        call.disconnected = True
        if not call.refused:
            self.server._call_soon(self.server._ended, call.key)
        others = [c for c in self.calls.values() if c.peer is call] + ([call.peer] if call.joined else [])
        for other in {c.key: c for c in others if not c.disconnected}.values():  # the other leg goes too
            if other.dial is not None and other.dial.answered_at is None:
                other.dial.caller_left = True
            self.post(lambda key=other.key: self.hang_up(key))
        if call.dial is not None:
            self._dialed(call, status, reason)
        self.post(lambda: self._forget(call.key))

    def _dialed(self, call: _Call, status: int, reason: str) -> None:
        dial = call.dial
        assert dial is not None
        if dial.answered_at is None:
            outcome, detail = outcome_of(status, reason, dial.rang, dial.timed_out)
            if dial.caller_left:
                outcome, detail = "failed", CALLER_LEFT
            log.info("SIP call %s: %s%s", call.sip_call_id, outcome.replace("_", " "), f" ({detail})" if detail else "")
            dial.finish(Dialed(outcome, call.sip_call_id, status or None, detail=detail))
            return
        talked_s = round(time.monotonic() - dial.answered_at, 2)
        if dial.call is None:  # an agent's leg: its Dialed was given when it was joined, unless it never was
            dial.finish(Dialed("failed", call.sip_call_id, 200, talked_s, "answered, but no audio came"))
            return
        if dial.broken:
            dialed = Dialed("failed", call.sip_call_id, 200, talked_s, dial.broken)
        else:
            dialed = Dialed("answered", call.sip_call_id, 200, talked_s)
        self.server._call_soon(self.server._settle, call.key, dial, dialed)

    def _forget(self, key: int) -> None:
        call = self.calls.pop(key, None)
        if call is not None:
            call.release_media()
            for other in self.calls.values():  # no cycle: the call object is deleted here, on this thread
                if other.peer is call:
                    other.peer = None
            call.peer = None
            if not call.refused and (call.dial is None or call.dial.answered_at is not None):
                self.server.stats.append(call.stats)

    def shutdown(self) -> None:
        self.running = False

    def _close_calls(self) -> None:
        """Every call hung up (BYE, or a final answer to one still ringing), their transactions given
        a moment, then every PJSIP object deleted here, before the endpoint."""
        for key in list(self.calls):
            try:
                self.hang_up(key)
            except pj.Error as error:
                log.debug("SIP: %s", error_text(error))
        deadline = time.monotonic() + HANGUP_WAIT_S
        while any(not c.disconnected for c in self.calls.values()) and time.monotonic() < deadline:
            self.endpoint.libHandleEvents(POLL_MS)
            self._run_jobs()
        self.endpoint.libHandleEvents(POLL_MS)  # let the last BYE transactions send
        self._run_jobs()
        for key in list(self.calls):
            self._forget(key)
        while not self.jobs.empty():  # what is still posted may hold calls; nothing may outlive PJSIP
            self.jobs.get_nowait()

    def _destroy(self) -> None:
        if self.account is not None:
            self.account.shutdown()
            self.account = None
        if self.endpoint is not None:
            try:
                self.endpoint.libDestroy()
            except pj.Error as error:
                log.warning("SIP: shutting PJSIP down: %s", error_text(error))
            self.endpoint = None


class _Account(pj.Account):
    def __init__(self, stack: _Stack) -> None:
        super().__init__()
        self.stack = stack

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        try:
            self.stack.incoming(prm.callId, prm.rdata.wholeMsg)
        except Exception:  # never let an exception cross back into PJSIP
            log.exception("SIP: an incoming call failed")


class _Call(pj.Call):
    """One call's PJSIP side: its state, its media connected to a port of ours, its keys."""

    def __init__(self, stack: _Stack, key: int, call_id: int, dial: _Dial | None = None) -> None:
        super().__init__(stack.account, call_id)
        self.stack = stack
        self.key = key
        self.dial = dial  # an outbound call's, else None
        self.sip_call_id = ""
        self.refused = False
        self.disconnected = False
        self.port: _Port | None = None
        self.media: pj.AudioMedia | None = None
        self.peer: _Call | None = None  # an agent's leg: its caller's call; a caller's: the agent's, once joined
        self.stats = CallStats("")
        self.rtp_seen = (time.monotonic(), -1)  # when the received RTP count last moved, and that count

    @property
    def joined(self) -> bool:
        """Caller and agent talk to each other: their audio goes from one call to the other."""
        return self.peer is not None and self.peer.peer is self

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        try:
            info = self.getInfo()
            if info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.disconnected:
                self.stack.disconnected(self, info.lastStatusCode, info.lastReason)
            elif self.dial is not None and info.state == pj.PJSIP_INV_STATE_EARLY:
                self.dial.rang = True
            elif self.dial is not None and info.state == pj.PJSIP_INV_STATE_CONFIRMED and self.dial.answered_at is None:
                self.stack.answered(self)
        except Exception:
            log.exception("SIP call %s: state change", self.sip_call_id)

    def onCallMediaState(self, prm: pj.OnCallMediaStateParam) -> None:
        try:
            self._media_changed()
        except Exception:
            log.exception("SIP call %s: media change", self.sip_call_id)

    def _media_changed(self) -> None:
        if self.refused:
            return
        info = self.getInfo()  # kept while its media are read: they live in it
        line = self.stack.server._lines.get(self.key)  # read only: the loop owns the mapping
        for media in info.media:
            if media.type != pj.PJMEDIA_TYPE_AUDIO:
                continue
            if media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                self.media = self.getAudioMedia(media.index)  # a new stream may come with each offer
                if self.joined:
                    self.link()
                elif self.peer is not None:  # an agent's leg not joined yet
                    self.stack.join_calls(self)
                else:
                    if self.port is None:
                        self.port = _Port(self.stack.server, self.key, self.stats)
                        self.port.create()
                    self.link()
                held = False
            else:  # held by the caller (sendonly, inactive), or media gone
                self._disconnect_media()
                held = True
            if line is not None and line.held != held:
                line.held = held
                line.playout.clear()
                log.info("SIP call %s %s", self.sip_call_id, "on hold" if held else "off hold")
            return

    def onDtmfDigit(self, prm: pj.OnDtmfDigitParam) -> None:
        digit = prm.digit.upper()
        if digit in KEYS:  # never logged: keys may be a PIN
            self.stack.server._call_soon(self.stack.server._dtmf, self.key, digit)

    def onStreamDestroyed(self, prm: pj.OnStreamDestroyedParam) -> None:
        try:
            stat = self.getStreamStat(prm.streamIdx)
            rx = stat.rtcp.rxStat
            self.stats.rx_packets += rx.pkt
            self.stats.rx_lost += rx.loss
            self.stats.rx_discarded += rx.discard + stat.jbuf.discard
            self.stats.jitter_ms = max(self.stats.jitter_ms, rx.jitterUsec.mean / 1000)
        except pj.Error as error:
            log.debug("SIP call %s: no stream statistics: %s", self.sip_call_id, error_text(error))
        self.stats.call_id = self.sip_call_id

    def link(self) -> None:
        """The call's audio both ways: with the other call once joined, else with its port."""
        assert self.media is not None
        other = self.peer.media if self.joined and self.peer is not None else self.port
        if other is not None:
            self.media.startTransmit(other)
            other.startTransmit(self.media)

    def unlink(self) -> None:
        """The call's audio off its port and off the call it is joined to."""
        # An ended call's stream leaves the bridge with its links; disconnecting them as well aborts
        # (PJSIP's conference asserts on ports gone by the time it runs the queued disconnect).
        peer = self.peer if self.joined and not self.disconnected else None
        others = [self.port, peer.media if peer is not None and not peer.disconnected else None]
        for other in others:
            if self.media is None or other is None:
                continue
            for source, sink in ((self.media, other), (other, self.media)):
                try:
                    source.stopTransmit(sink)
                except pj.Error:
                    pass  # the stream is already gone

    def _disconnect_media(self) -> None:
        self.unlink()
        self.media = None

    def release_media(self) -> None:
        """Before the call object goes: its port out of the bridge, then deleted (on this thread)."""
        self._disconnect_media()
        self.stats.call_id = self.sip_call_id
        self.port = None


class _Port(pj.AudioMediaPort):
    """A call's end in the conference bridge: caller audio out of it, reply audio into it. Called on
    the bridge's clock thread every 20 ms; keep these two methods short."""

    def __init__(self, server: SipServer, key: int, stats: CallStats) -> None:
        super().__init__()
        self.server = server
        self.key = key
        self.stats = stats
        self.last_request = 0.0

    def create(self) -> None:
        fmt = pj.MediaFormatAudio()
        fmt.init(pj.PJMEDIA_FORMAT_PCM, SAMPLE_RATE, 1, int(FRAME_S * 1_000_000), 16)
        self.createPort(f"call{self.key}", fmt)

    def onFrameReceived(self, frame: pj.MediaFrame) -> None:
        if frame.type == pj.PJMEDIA_FRAME_TYPE_AUDIO and frame.size:
            line = self.server._lines.get(self.key)
            if line is not None:
                self.server._call_soon(line.heard, _vector_bytes(frame.buf))

    def onFrameRequested(self, frame: pj.MediaFrame) -> None:
        now = time.monotonic()
        if self.last_request and now - self.last_request > 2 * FRAME_S:
            self.stats.frames_late += 1
        self.last_request = now
        self.stats.frames_requested += 1
        line = self.server._lines.get(self.key)
        try:
            pcm = line.playout.popleft() if line is not None else None
        except IndexError:
            pcm = None
        if pcm is None and line is not None and line.hold_at is not None:
            at = line.hold_at
            pcm, line.hold_at = _HOLD[at:at + FRAME_BYTES], (at + FRAME_BYTES) % len(_HOLD)
        if pcm is None:
            frame.type = pj.PJMEDIA_FRAME_TYPE_NONE  # silence
            return
        frame.type = pj.PJMEDIA_FRAME_TYPE_AUDIO
        frame.buf = pj.ByteVector(pcm)
        self.stats.frames_played += 1


class _Dial:
    """One `originate` in progress: what to dial, how it goes, and the answer its caller waits for
    (set once, from the sip thread or the event loop)."""

    def __init__(self, uri: str, ring_timeout_s: float, call: OutboundCall | None = None, joins: str = "") -> None:
        self.call = call  # a call to a customer: whom, and how its session opens
        self.joins = joins  # else an agent's leg: the SIP Call-ID of the call it joins
        self.caller_left = False  # that call ended before the agent answered
        self.uri = uri
        self.ring_timeout_s = ring_timeout_s
        self.deadline = 0.0  # when the INVITE is cancelled unless answered (monotonic)
        self.rang = False  # a provisional response came (the callee's phone rings)
        self.timed_out = False  # cancelled by us: not answered in time
        self.answered_at: float | None = None
        self.broken = ""  # why an answered call could not go on
        self.done: concurrent.futures.Future[Dialed] = concurrent.futures.Future()

    def finish(self, dialed: Dialed) -> None:
        if not self.done.done():
            self.done.set_result(dialed)


class _LogWriter(pj.LogWriter):
    """PJSIP's own log lines into Python logging, at debug."""

    def write(self, entry: pj.LogEntry) -> None:
        log.debug("pjsip: %s", entry.msg.rstrip())


def _copy_by_pointer(vector: pj.ByteVector) -> bytes:
    """A ByteVector's bytes in one copy: the SWIG proxy wraps a std::vector<unsigned char>, whose first
    member points to its data (checked below); iterating the proxy instead costs ~0.6 ms a frame."""
    data = ctypes.c_void_p.from_address(int(vector.this)).value
    return ctypes.string_at(data, vector.size()) if data else b""


_HOLD = hold_pattern(SAMPLE_RATE).tobytes()  # a whole number of frames (4 s)
assert len(_HOLD) % FRAME_BYTES == 0

_PROBE = bytes(range(256))
_vector_bytes: Callable[[pj.ByteVector], bytes] = (
    _copy_by_pointer if _copy_by_pointer(pj.ByteVector(_PROBE)) == _PROBE else bytes)  # another layout: slowly


def _status(code: int) -> pj.CallOpParam:
    param = pj.CallOpParam(True)
    param.statusCode = code
    return param


def error_text(error: BaseException) -> str:
    """pj.Error's own words (its str() is the SWIG proxy's repr)."""
    return f"{error.title}: {error.reason}" if isinstance(error, pj.Error) else str(error)


def _on_loop(loop: asyncio.AbstractEventLoop | None) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _succeed(future: asyncio.Future[int], value: int) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[int], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
