"""No phone sends near-identical first messages: which wording a first message goes with.

A first message is rendered with the step's usual seed, ``"<enrollment>:<step>"`` (its
rewording 0); when that text is too like one of the phone's last first messages
(:func:`spintax.too_similar`: word-shingle Jaccard at or above the threshold), it is
rendered again with ``"<enrollment>:<step>:<k>"`` for k = 1, 2, ... up to
``[texts] rewordings``, and the first that differs enough goes. When none does, the step
waits ``retry_after_s`` and may go from another phone (the texts of this one change as
it sends to other leads). Never an error, never a dead letter.

The choice is pure: the sender reads the phone's recent first messages (one read of an
index, under the phone's lease, so no other send of the phone slips in between) after
the decision says go, and passes them in; the decision itself stays as it is. A step
left ``sending`` is reconciled against every text it may have gone out with
(:func:`wordings`), so a rewording never makes a step go twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from engine.sending import decision
from engine.sending.decision import BackToDue, Go
from engine.storage import WorkItem
from sequences import Sequence as StepSequence
from spintax import MissingVariableError, Rendered, first_dissimilar

TOO_ALIKE = "every wording too like the phone's recent first messages"


@dataclass(frozen=True)
class WordingPolicy:
    """``[texts]`` as the choice reads it."""

    threshold: float
    rewordings: int
    retry_after_s: float


def word(
    go: Go, sequence: StepSequence, item: WorkItem, recent: Sequence[str], *, now: datetime,
    policy: WordingPolicy,
) -> Go | BackToDue:  # fmt: skip
    """``go`` with the first wording unlike every one of ``recent`` (the phone's last first
    messages, newest first); the step waiting when there is none. A follow-up, or a text
    that could not be rendered, goes as it is."""
    if item.step != 0 or go.missing is not None or not recent:
        return go
    rendered: list[Rendered] = []

    def candidates() -> Iterator[str]:
        yield go.text  # rewording 0: the decision rendered it already
        for rewording in range(1, policy.rewordings + 1):
            rendered.append(decision.render(sequence, item, go.variant, rewording))
            yield rendered[-1].text

    chosen = first_dissimilar(candidates(), recent, policy.threshold)
    if chosen is None:
        return BackToDue(
            TOO_ALIKE, due_at=now + timedelta(seconds=policy.retry_after_s), release_phone=True
        )
    if chosen == 0:
        return go
    return replace(go, text=rendered[chosen - 1].text, variant_id=rendered[chosen - 1].variant_id)


def wordings(sequence: StepSequence, item: WorkItem, rewordings: int) -> tuple[str, ...] | None:
    """Every text the item's step may have gone out with (a first message with any of its
    ``rewordings``, a follow-up with its one); ``None`` if it cannot be rendered."""
    variant = decision.variant_of(sequence, item)
    count = rewordings + 1 if item.step == 0 else 1
    try:
        texts = (decision.render(sequence, item, variant, k).text for k in range(count))
        return tuple(dict.fromkeys(texts))
    except MissingVariableError:
        return None
