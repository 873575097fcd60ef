"""Signals of the identity context, so that the contexts holding pseudonymised rows need not be known here.

``persons_linked`` is sent when a reviewer links two persons of the review queue, inside the transaction of that
decision (so that receivers' re-pointing commits or rolls back with it); keyword arguments ``kept`` (the pseudonym
that stays) and ``merged`` (the pseudonym whose rows move to ``kept``). ``dhnet.cases`` and ``dhnet.consent``
connect to it.
"""

from django.dispatch import Signal

persons_linked = Signal()
