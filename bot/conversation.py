"""The Slack side of every conversation: requests, alerts, votes and expiry, on the one pipeline.

Listeners stay thin: they ack, pick out the few fields they need and call a method here. This
module decides which graph thread a Slack message belongs to, runs the pipeline, and renders the
outcome with the pure functions in ``bot.blocks``. Errors reach people as one short sentence in
the thread; the details go to the log.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks import (
    approval_blocks,
    decided_blocks,
    incident_root_blocks,
    result_blocks,
    status_blocks,
    text_fallback,
)
from bot.follow_ups import feedback_text, follow_up, vote_of, without_mentions
from bot.slack_text import MARKDOWN_BLOCK_TEXT_MAX, escape, split_text, truncate
from bot.threads import SlackPlace, SlackThreads, mention_thread_id
from bot.usergroups import UsergroupDirectory
from graph.models import CONTROL_ACTIONS, AlertFacts
from graph.parsing import EventFormatError, parse_event, parse_request
from graph.render import summary
from graph.state import JsonDict, RunInput
from knowledge.memory import Vote
from knowledge.postmortem import PostmortemError, write_postmortem
from runtime.coordination import paused_state
from runtime.incidents import IncidentThread
from runtime.metrics import record_slack_error
from runtime.pipeline import Pipeline, RunResult
from runtime.redelivery import open_incident_once
from runtime.status import status_report
from runtime.store import StoreUnavailable

log = logging.getLogger("opsbot.slack")
REPEAT_UPDATE_SECONDS = 2.0  # the root message's repeat counter is refreshed at most this often
FAILING_CLOSED = "I can't reach my coordination store, so I am failing closed: nothing ran."


def slack_error(error: Exception) -> str:
    """The short reason a Slack call failed: Slack's error code, or the network error."""
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return str(error)


def count_slack_error(method: str, error: Exception) -> None:
    """A failed Web API call into the metrics: Slack's error code, or the kind of network error."""
    code = slack_error(error) if isinstance(error, SlackApiError) else type(error).__name__
    record_slack_error(method, code)


def control_thread(thread_id: str) -> str:
    """Status, help, pause and resume run beside the conversation, never replacing its pending plan."""
    return f"{thread_id}~control"


def last_action_id(state: JsonDict) -> str | None:
    """The most recent action this thread executed that can still be rolled back."""
    done = [e for e in state.get("executions", []) if e.get("status") == "ok" and e.get("action_id")]
    done = [e for e in done if e.get("action") != "rollback"]
    return str(done[-1]["action_id"]) if done else None


@dataclass
class SlackBridge:
    pipeline: Pipeline
    client: WebClient
    threads: SlackThreads
    usergroups: UsergroupDirectory
    incidents_channel: str | None = None
    # The run id of the queued work item this bridge handles (runtime/redelivery.py): a redelivered item
    # continues its first delivery's run and reuses its thread root. None: a fresh run id per run.
    run_id: str | None = None

    # ----- requests -------------------------------------------------------------------------------

    def handle_mention(self, event: JsonDict) -> None:
        channel, ts = str(event.get("channel", "")), str(event.get("ts", ""))
        root = str(event.get("thread_ts") or ts)
        place = SlackPlace(channel, root)
        self._safely(place, lambda: self._mention(event, place))

    def _mention(self, event: JsonDict, place: SlackPlace) -> None:
        self._react(place.channel, str(event.get("ts", "")), "eyes")
        thread_id = self.threads.thread_at(place.channel, place.ts) or mention_thread_id(
            place.channel, place.ts
        )
        if self.threads.place(thread_id) is None:
            self.threads.bind(thread_id, place)
        self.converse(thread_id, place, str(event.get("user", "")), str(event.get("text", "")))

    def handle_thread_reply(self, event: JsonDict) -> bool:
        """A reply without a mention, in a thread opsbot runs: only follow-ups count. True if handled."""
        channel, thread_ts = str(event.get("channel", "")), str(event.get("thread_ts") or "")
        if not thread_ts or follow_up(str(event.get("text", ""))) is None:
            return False
        thread_id = self.threads.thread_at(channel, thread_ts)
        if thread_id is None:
            return False
        place = SlackPlace(channel, thread_ts)
        user, text = str(event.get("user", "")), str(event.get("text", ""))
        self._safely(place, lambda: self.converse(thread_id, place, user, text))
        return True

    def converse(self, thread_id: str, place: SlackPlace, user: str, text: str) -> None:
        text = without_mentions(text)
        kind = follow_up(text)
        if kind in ("approve", "reject"):
            self.vote(thread_id, user, kind == "approve", None, place.channel)
            return
        if kind == "why":
            state = self.pipeline.last_state(thread_id)
            self.say(
                place,
                "Here is what I decided and why:\n" + summary(state) if state else "Nothing has run here.",
            )
            return
        if kind == "feedback":
            self.note_feedback(thread_id, place, user, vote=None, text=feedback_text(text))
            return
        if kind == "postmortem":
            self.say_markdown(place, self.postmortem(thread_id))
            return
        if kind == "rollback_last":
            action_id = last_action_id(self.pipeline.last_state(thread_id))
            if action_id is None:
                self.say(place, "Nothing was executed in this thread, so there is nothing to roll back.")
                return
            text = f"roll back {action_id}"
        self.run_request(thread_id, place, user, text)

    def note_feedback(
        self, thread_id: str, place: SlackPlace, user: str, vote: Vote | None, text: str | None
    ) -> None:
        recorded = self.pipeline.ctx.memory.feedback(thread_id, vote=vote, text=text, user=user)
        if text is not None:  # a vote answers itself; words deserve a reply
            answer = "Noted with the incident." if recorded else "No finished incident here to note it on."
            self.say(place, answer)

    def handle_reaction(self, event: JsonDict) -> None:
        """👍/👎 on an incident thread's messages is feedback on that incident."""
        item = event.get("item") or {}
        vote = vote_of(str(event.get("reaction", "")))
        if vote is None or item.get("type") != "message":
            return
        channel, ts = str(item.get("channel", "")), str(item.get("ts", ""))
        thread_id = self.threads.thread_of_message(channel, ts)
        if thread_id is not None:
            user, place = str(event.get("user", "")), SlackPlace(channel, ts)
            self._safely(None, lambda: self.note_feedback(thread_id, place, user, vote, None))

    def postmortem(self, thread_id: str) -> str:
        try:
            return write_postmortem(self.pipeline.ctx.audit.path, thread_id)
        except PostmortemError as error:
            return f"No post-mortem: {error}"

    def run_request(self, thread_id: str, place: SlackPlace, user: str, text: str) -> RunResult:
        control = parse_request(text, user).action in CONTROL_ACTIONS
        graph_thread = control_thread(thread_id) if control else thread_id
        replaced = None if control else self.pipeline.pending(thread_id)
        was_paused = paused_state(self.pipeline.ctx.store) is not None
        result = self._run(graph_thread, {"text": text, "requester": user})
        if replaced is not None and replaced.get("run_id") != self.run_id:  # not this item's own run
            self._close_approval(thread_id, replaced, "superseded", [], "replaced by a newer request")
        self.publish(thread_id, place, result)
        now_paused = paused_state(self.pipeline.ctx.store)
        if was_paused != (now_paused is not None):
            word = (
                "PAUSED: nothing will execute until someone authorised says resume"
                if now_paused
                else "resumed"
            )
            self._post(place.channel, None, f":rotating_light: Automation {word} (by <@{user}>).")
        return result

    def _run(self, thread_id: str, run_input: RunInput) -> RunResult:
        """A new run; for a queued item, under its run id, so a redelivery continues it instead."""
        if self.run_id is None:
            return self.pipeline.start(thread_id, run_input)
        return self.pipeline.start_or_resume(thread_id, run_input, self.run_id)

    def publish(self, thread_id: str, place: SlackPlace, result: RunResult) -> None:
        """Post what a run ended with: an approval request, or a reply. Summaries come via the notifier."""
        if result.pending is not None:
            run_id = str(result.pending.get("run_id", ""))
            if self.run_id == run_id and self.threads.approval_message(thread_id, run_id) is not None:
                return  # a redelivered item whose first delivery already asked
            blocks = approval_blocks(result.pending)
            posted = self._post(place.channel, place.ts, text_fallback(blocks), blocks)
            if posted is not None:
                self.threads.remember_approval(thread_id, run_id, posted)
        elif result.state.get("intent", {}).get("action") == "status":
            blocks = self.status_blocks()
            self._post(place.channel, place.ts, text_fallback(blocks), blocks)
        elif result.state.get("reply"):
            self.say(place, str(result.state["reply"]))

    def handle_command(self, channel: str, user: str, text: str) -> None:
        """`/opsbot status` answers privately; any other request opens a thread in the channel."""
        if text.strip().lower() == "status":
            self._safely(None, lambda: self._ephemeral(channel, user, "opsbot status", self.status_blocks()))
            return

        def start_thread() -> None:
            root = self._post_root(channel, f"<@{user}> asked: {escape(text)}")
            if root is not None:
                thread_id = mention_thread_id(root.channel, root.ts)
                self.threads.bind(thread_id, root)
                self.converse(thread_id, root, user, text)

        self._safely(None, start_thread)

    # ----- approvals --------------------------------------------------------------------------------

    def handle_click(self, body: JsonDict, thread_id: str, run_id: str, approve: bool) -> None:
        channel = str((body.get("channel") or {}).get("id", ""))
        message_ts = str(
            (body.get("container") or {}).get("message_ts") or (body.get("message") or {}).get("ts")
        )
        user = str((body.get("user") or {}).get("id", ""))
        self._safely(
            None,
            lambda: self.vote(thread_id, user, approve, run_id, channel, SlackPlace(channel, message_ts)),
        )

    def vote(
        self,
        thread_id: str,
        user: str,
        approve: bool,
        run_id: str | None,
        channel: str,
        message: SlackPlace | None = None,
    ) -> None:
        pending = self.pipeline.pending(thread_id)
        if message is None and pending is not None:
            message = self.threads.approval_message(thread_id, str(pending.get("run_id", "")))

        def show_decision(request: JsonDict, answer: JsonDict) -> None:
            if message is not None:
                who = list(answer.get("approvers") or [answer.get("by", "")])
                self._update(message, decided_blocks(request, str(answer["status"]), who))

        result = self.pipeline.vote(
            thread_id, user, approve, self.usergroups.expand, run_id, on_decided=show_decision
        )
        if not result.accepted:
            self._ephemeral(channel, user, result.message)
            return
        if result.run is None:  # one of several approvals recorded
            if message is not None and pending is not None:
                missing = result.missing_groups
                self._update(message, decided_blocks(pending, "partial", result.approvers, missing=missing))
            return
        if message is not None and result.run.decided is not None:
            self._update(message, result_blocks(result.run.decided, result.run.state, result.approvers))

    def _close_approval(
        self, thread_id: str, pending: JsonDict, status: str, by: list[str], note: str = ""
    ) -> None:
        message = self.threads.approval_message(thread_id, str(pending.get("run_id", "")))
        if message is not None:
            self._update(message, decided_blocks(pending, status, by, note))

    def expire_due(self) -> int:
        """Close approvals whose time is up, and mark their messages expired. Returns how many."""
        closed = self.pipeline.expire_due()
        for run in closed:
            if run.decided is not None:
                self._close_approval(run.thread_id, run.decided, "expired", [])
        return len(closed)

    # ----- alerts -----------------------------------------------------------------------------------

    def handle_alert_post(self, event: JsonDict) -> None:
        """A post from an alert integration in an alert channel: an incident, unless it's noise."""
        origin = SlackPlace(str(event.get("channel", "")), str(event.get("ts", "")))
        try:
            alert = parse_event(event)
        except EventFormatError as error:
            log.info("post in %s is not an alert opsbot reads: %s", origin.channel, error)
            return
        requester = f"integration:{event.get('bot_id') or event.get('username') or 'unknown'}"

        def intake() -> None:
            self.intake_alert(event, alert, requester, origin)

        self._safely(origin, intake)

    def intake_alert(
        self, event: JsonDict, alert: AlertFacts, requester: str, origin: SlackPlace | None = None
    ) -> IncidentThread:
        """One thread per distinct alert: the first opens it, repeats bump its counter, a resolution runs."""
        ctx = self.pipeline.ctx
        incident = open_incident_once(
            ctx.store, self.run_id, alert.fingerprint, alert.resolved, alert.title, ctx.clock()
        )
        self.follow_incident(incident, alert, event, requester, origin)
        return incident

    def follow_incident(
        self,
        incident: IncidentThread,
        alert: AlertFacts,
        event: JsonDict,
        requester: str,
        origin: SlackPlace | None = None,
    ) -> None:
        """Slack's part once the incident is open: the root message or its counter, then the run."""
        alert_json = alert.model_dump(mode="json")
        if incident.is_new:
            self._open_incident_thread(incident.thread_id, alert_json, origin)
        elif self.pipeline.ctx.store.claim(
            f"slack-repeat-update:{incident.thread_id}", "1", REPEAT_UPDATE_SECONDS
        ):
            place = self.threads.place(incident.thread_id)
            if place is not None:
                self._update(place, incident_root_blocks(alert_json, incident.thread_id, incident.repeats))
        if incident.run:
            result = self._run(incident.thread_id, {"event": event, "requester": requester})
            place = self.threads.place(incident.thread_id)
            if place is not None:
                self.publish(incident.thread_id, place, result)

    def _open_incident_thread(self, thread_id: str, alert: JsonDict, origin: SlackPlace | None) -> None:
        if self.incidents_channel:
            blocks = incident_root_blocks(alert, thread_id, 0)
            posted = self._post_root(self.incidents_channel, text_fallback(blocks), blocks)
            if posted is not None:
                self.threads.bind(thread_id, posted)
        elif origin is not None:  # no incidents channel: the alert post itself roots the thread
            self.threads.bind(thread_id, origin)

    # ----- status -----------------------------------------------------------------------------------

    def status_blocks(self) -> list[JsonDict]:
        return status_blocks(status_report(self.pipeline.ctx, self.permalink))

    def permalink(self, thread_id: str) -> str | None:
        place = self.threads.place(thread_id)
        if place is None:
            return None
        try:
            return str(self.client.chat_getPermalink(channel=place.channel, message_ts=place.ts)["permalink"])
        except (SlackApiError, OSError):
            return None

    # ----- Slack calls ------------------------------------------------------------------------------

    def say(self, place: SlackPlace, text: str) -> None:
        for chunk in split_text(text):
            self._post(place.channel, place.ts, chunk)

    def say_markdown(self, place: SlackPlace, markdown: str) -> None:
        """Standard Markdown (tables and all) in a ``markdown`` block; mrkdwn can't show tables."""
        blocks = [{"type": "markdown", "text": truncate(markdown, MARKDOWN_BLOCK_TEXT_MAX)}]
        self._post(place.channel, place.ts, truncate(markdown, 3000), blocks)

    def _post_root(self, channel: str, text: str, blocks: list[JsonDict] | None = None) -> SlackPlace | None:
        """A new thread's root message; a redelivered queued item gets the one it posted before."""
        if self.run_id is not None and (posted := self.threads.work_root(self.run_id)) is not None:
            return posted
        posted = self._post(channel, None, text, blocks)
        if posted is not None and self.run_id is not None:
            self.threads.remember_work_root(self.run_id, posted)
        return posted

    def _post(
        self, channel: str, thread_ts: str | None, text: str, blocks: list[JsonDict] | None = None
    ) -> SlackPlace | None:
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if blocks is not None:
            kwargs["blocks"] = blocks
        try:
            response = self.client.chat_postMessage(**kwargs)
        except (SlackApiError, OSError) as error:
            count_slack_error("chat.postMessage", error)
            log.warning("could not post to %s: %s", channel, slack_error(error))
            return None
        posted = SlackPlace(str(response.get("channel") or channel), str(response["ts"]))
        if thread_ts:
            thread_id = self.threads.thread_at(posted.channel, thread_ts)
            if thread_id is not None:
                self.threads.remember_message(posted, thread_id)
        return posted

    def _update(self, message: SlackPlace, blocks: list[JsonDict]) -> None:
        try:
            self.client.chat_update(
                channel=message.channel, ts=message.ts, blocks=blocks, text=text_fallback(blocks)
            )
        except (SlackApiError, OSError) as error:
            count_slack_error("chat.update", error)
            log.warning("could not update %s/%s: %s", message.channel, message.ts, slack_error(error))

    def _ephemeral(self, channel: str, user: str, text: str, blocks: list[JsonDict] | None = None) -> None:
        try:
            if blocks is None:
                self.client.chat_postEphemeral(channel=channel, user=user, text=text)
            else:
                self.client.chat_postEphemeral(channel=channel, user=user, text=text, blocks=blocks)
        except (SlackApiError, OSError) as error:
            count_slack_error("chat.postEphemeral", error)
            log.warning("could not tell %s: %s", user, slack_error(error))

    def _react(self, channel: str, ts: str, name: str) -> None:
        try:
            self.client.reactions_add(channel=channel, timestamp=ts, name=name)
        except (SlackApiError, OSError) as error:  # already_reacted, no scope: not worth failing for
            log.info("reaction %s not added: %s", name, slack_error(error))

    def _safely(self, place: SlackPlace | None, work: Callable[[], None]) -> None:
        """Run a handler; on failure, tell the thread in one plain sentence and log the details."""
        try:
            work()
        except StoreUnavailable as error:
            log.error("coordination store unavailable: %s", error)
            if place is not None:
                self.say(place, FAILING_CLOSED)
        except Exception:
            ref = uuid.uuid4().hex[:8]
            log.exception("Slack handler failed (ref %s)", ref)
            if place is not None:
                self.say(place, f"Sorry, that failed inside opsbot (ref {ref}). Nothing further ran for it.")


class SlackNotifier:
    """The graph's notifier in Slack: a thread's summaries go to the Slack thread it is bound to."""

    def __init__(self, client: WebClient, threads: SlackThreads) -> None:
        self.client = client
        self.threads = threads

    def post(self, thread_id: str, text: str) -> None:
        place = self.threads.place(thread_id.removesuffix("~control"))
        if place is None:
            log.info("thread %s has no Slack thread; message not posted", thread_id)
            return
        for chunk in split_text(text):
            try:
                posted = self.client.chat_postMessage(channel=place.channel, thread_ts=place.ts, text=chunk)
            except (SlackApiError, OSError) as error:  # never let Slack break a run that already acted
                log.warning("could not post to %s: %s", thread_id, slack_error(error))
                return
            self.threads.remember_message(SlackPlace(place.channel, str(posted["ts"])), thread_id)
