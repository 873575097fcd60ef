"""Safe release of case-based data: suppressed aggregate tables, differentially private counts with a privacy-budget
ledger, and k-anonymous line lists (issue 4). The pure algorithms are :mod:`.suppression`, :mod:`.noise` and
:mod:`.kanon`; :mod:`.services` wires them to :class:`dhnet.cases.models.Case` and the consent register."""
