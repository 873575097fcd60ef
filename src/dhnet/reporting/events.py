"""In-process notifications of the reporting context, so that it need not know who listens.

``counts_changed`` is sent after the transaction of an import commits (``transaction.on_commit``), once per batch
that created, changed or deleted counts (not for dry runs, duplicates or batches that changed nothing). Keyword
arguments:

``batch_id`` (int)
    the :class:`~dhnet.reporting.models.ImportBatch`;
``source`` (str)
    ``form``, ``csv``, ``dhis2``, ``fhir``, ... (:class:`~dhnet.reporting.models.Source`);
``disease_ids``, ``orgunit_ids`` (sorted ``list[int]``)
    the diseases and org units whose counts changed;
``periods`` (sorted ``list[datetime.date]``)
    the ``period_start`` of the changed counts;
``actor_username`` (str).

The detection context connects to it to queue detection runs.
"""

from django.dispatch import Signal

counts_changed = Signal()
