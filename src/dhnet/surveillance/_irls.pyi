"""Type stub of the compiled IRLS kernel (``_irls.c``; see there and :meth:`dhnet.surveillance._glm.Chunk._fit`)."""

from typing_extensions import Buffer

VERSION: int

def fit_trend(
    m: int,
    v: int,
    n_levels: int,
    n_fits: int,
    t: Buffer,
    lp: Buffer,
    w0: Buffer,
    wz0: Buffer,
    lmap: Buffer,
    py: Buffer,
    pyt: Buffer,
    pysum: Buffer,
    pytsum: Buffer,
    cy: Buffer,
    pyoff: Buffer,
    devold: Buffer,
    tabs: Buffer,
    trend: Buffer,
    alpha: Buffer,
    beta: Buffer,
    conv: Buffer,
    ok: Buffer,
    su: Buffer,
    tu: Buffer,
    uu: Buffer,
    wmu: Buffer,
    wlast: Buffer,
    /,
) -> None: ...
def exp(x: Buffer, out: Buffer, /) -> None: ...
